"""Fixtures of the target-mode tests; the synthetic sequences are in ``target_synth``."""

import pytest
from .target_synth import make_sequence


@pytest.fixture
def sequence(tmp_path):
    """``sequence(**kwargs)`` -> (path, truth): a synthetic sequence written under tmp_path."""
    count = iter(range(1000))

    def make(**kwargs):
        return make_sequence(tmp_path / f"seq{next(count)}", **kwargs)

    return make
