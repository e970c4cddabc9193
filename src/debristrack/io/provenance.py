"""What a result was computed from, so that a rerun redoes it when its input changed.

A result file ``out`` gets a sidecar ``out.source.json`` written after it: the sequence's
frame files (name, size, modification time), the frame count, and the parameters. A rerun
compares the sidecar with the sequence as it is now; a result whose sidecar is missing or
differs (a resumed ``simulate`` added frames, a file was replaced, other parameters) is
redone rather than kept.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .atomic import write_json_atomic


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
