"""What a result was computed from, so that a rerun redoes it when its input changed.

A result file ``out`` gets a sidecar ``out.source.json`` written after it: the sequence's
frame files (name, size, modification time), the frame count, and the parameters. A rerun
compares the sidecar with the sequence as it is now; a result whose sidecar is missing or
differs (a resumed ``simulate`` added frames, a file was replaced, other parameters) is
redone rather than kept. A simulated sequence that is not complete yet is not an input at
all (:func:`unfinished_reason`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .atomic import write_json_atomic

UNFINISHED = ".unfinished"  # present in a simulated sequence folder while simulate writes it


def sidecar(out: str | os.PathLike) -> Path:
    """``tracks.csv`` -> ``tracks.csv.source.json``."""
    out = Path(out)
    return out.with_name(out.name + ".source.json")


def fingerprint(files: list[Path], **params) -> dict:
    """A JSON-ready record of ``files`` (name, size, mtime) and ``params``, with its digest."""
    stats = []
    for f in files:
        st = f.stat()
        stats.append([f.name, st.st_size, st.st_mtime_ns])
    body = {"frames": len(files), "files": stats, "params": params}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return {"digest": digest, "frames": len(files), "params": json.loads(json.dumps(params, default=str))}


def record(out: str | os.PathLike, fp: dict) -> None:
    """Write the sidecar of ``out`` (after ``out`` itself)."""
    write_json_atomic(sidecar(out), fp)


def is_current(out: str | os.PathLike, fp: dict) -> bool:
    """True when ``out`` exists and its sidecar records the same input as ``fp``."""
    if not Path(out).is_file():
        return False
    try:
        old = json.loads(sidecar(out).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(old, dict) and old.get("digest") == fp["digest"]


def unfinished_reason(seq_dir: str | Path) -> str | None:
    """Why a simulated sequence folder is not complete, or None (complete, or not simulated at all).

    A folder with the ``.unfinished`` marker was being written when simulate stopped; one whose
    ``meta.json`` counts more frames than ``frames/`` holds lost files after it was finished.
    """
    seq_dir = Path(seq_dir)
    if (seq_dir / UNFINISHED).exists():
        return "unfinished: simulate is writing it or was stopped (run simulate again to complete it)"
    meta_path = seq_dir / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        want = int(json.loads(meta_path.read_text(encoding="utf-8"))["frames"])
    except (OSError, ValueError, KeyError, TypeError):
        return "meta.json is unreadable (run simulate again to redo the sequence)"
    have = len(list((seq_dir / "frames").glob("*.fits")))
    if have != want:
        return f"has {have} of the {want} frames meta.json lists (run simulate again to redo it)"
    return None
