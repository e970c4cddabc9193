"""Shared fixtures: paths to ../shared (real frames, peer data) and small FITS writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the repository")
    return SHARED


def write_frame(path: Path, data, **header) -> Path:
    hdu = fits.PrimaryHDU(np.asarray(data))
    for key, value in header.items():
        hdu.header[key.replace("_", "-")] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    hdu.writeto(path, overwrite=True)
    return path


@pytest.fixture
def frame_writer():
    return write_frame
