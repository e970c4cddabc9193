"""Write one benchmark's section of BENCHMARKS.md, leaving the other sections alone.

A section is the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``; it is
replaced whole, or appended when new. The file is written atomically.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
from pathlib import Path

from ..io.atomic import atomic_write

HEADER = (
    "# Benchmarks\n\n"
    "Every table here is written by `debristrack bench NAME` (see `benchmarks/README.md`); "
    "each section names the machine, the command and the date it was measured.\n"
)


def machine_description() -> str:
    """One line naming the CPU, core count and Python."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores available, Python {platform.python_version()}"


def section_preamble(command: str) -> str:
    today = _dt.date.today().isoformat()
    return f"Measured {today} on {machine_description()}.\nCommand: `{command}`\n\n"


def update_section(name: str, markdown: str, path: str | os.PathLike = "BENCHMARKS.md") -> Path:
    """Replace (or add) section ``name`` of ``path`` with ``markdown``."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{markdown.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path
