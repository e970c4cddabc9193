import pytest

from debristrack.simulate import make_scene


@pytest.fixture
def small():
    """Small, fast scenes of each mode."""
    def build(mode, preset=None, **kw):
        base = dict(size=160, frames=4)
        base.update(kw)
        return make_scene(mode, preset, **base)
    return build
