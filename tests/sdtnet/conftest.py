import pytest

from debristrack.sdtnet.model import ModelConfig

TINY = ModelConfig(levels=(1, 1, 1, 1, 1, 1), channels=(4, 8, 8, 8, 8, 8), head_conv=8, emb_dim=2)


@pytest.fixture
def tiny_config():
    return TINY
