"""Contact sheets of simulated sequences: a few frames, ZScaled, ground truth drawn over.

Streaks are drawn as segments labelled with their id, points as circles labelled with their
id. Reads only what :mod:`debristrack.simulate.dataset` wrote (``frames/``, ``gt.csv``).
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from astropy.io import fits  # noqa: E402

from ..errors import InputError  # noqa: E402
from ..io.atomic import atomic_write  # noqa: E402
from ..io.tables import read_table  # noqa: E402
from ..io.zscale import zscale  # noqa: E402


def write_preview(seq_dir: str | Path, out_png: str | Path, *, frames: int = 4, dpi: int = 100) -> Path:
    """Write a contact sheet of up to ``frames`` evenly spaced frames of ``seq_dir`` to ``out_png``.

    Each panel is the frame ZScaled (IRAF zscale) in grey, with the ground truth of that frame
    in colour: streak segments from (x1, y1) to (x2, y2), point circles of radius 6 px, ids
    beside them.
    """
    seq_dir, out_png = Path(seq_dir), Path(out_png)
    files = sorted((seq_dir / "frames").glob("*.fits"))
    if not files:
        raise InputError(f"{seq_dir}: no frames/*.fits to preview")
    truth = read_table(seq_dir / "gt.csv")
    pick = np.unique(np.linspace(0, len(files) - 1, min(frames, len(files))).round().astype(int))
    fig, axes = plt.subplots(1, len(pick), figsize=(4 * len(pick), 4.3), squeeze=False)
    for ax, k in zip(axes[0], pick):
        with fits.open(files[k], memmap=False) as hdul:
            data = np.asarray(hdul[0].data, dtype=np.float32)
            mode = hdul[0].header.get("DT_MODE", "")
        ax.imshow(zscale(data, method="iraf"), cmap="gray", origin="lower", vmin=0, vmax=255,
                  interpolation="nearest")
        rows = truth[np.asarray(truth["frame"]) == int(files[k].stem)] if len(truth) else truth
        for row in rows:
            if truth.meta.get("kind") == "streak":
                ax.plot([row["x1"], row["x2"]], [row["y1"], row["y2"]], color="tab:red", lw=0.8, alpha=0.8)
                tx, ty = row["x2"], row["y2"]
            else:
                ax.add_patch(plt.Circle((row["x"], row["y"]), 6, fill=False, color="tab:red", lw=0.8))
                tx, ty = row["x"] + 7, row["y"] + 7
            ax.text(tx, ty, str(int(row["id"])), color="yellow", fontsize=7)
        ax.set_title(f"{seq_dir.name} {mode} frame {int(files[k].stem)}", fontsize=9)
        ax.set_xlim(-0.5, data.shape[1] - 0.5)
        ax.set_ylim(-0.5, data.shape[0] - 0.5)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    with atomic_write(out_png, "wb") as fh:
        fh.write(buf.getvalue())
    return out_png
