"""Track and ground-truth tables: the CSV formats of DESIGN.md "Tables".

Streaks: ``frame,id,x1,y1,x2,y2[,score]`` with ``(x1, y1)`` the left endpoint (smaller x;
on a tie, smaller y), as in [SDT] sec. 4.4. Points: ``frame,id,x,y[,flux,score]``. Extra
columns (``ra``, ``dec``, ``time``, ``flag``, ...) are carried along. A row whose ``flag`` is
not ``ok`` may have NaN coordinates: it records a frame where a tracked object was missed.

In memory a table is an :class:`astropy.table.Table`; ``frame`` and ``id`` are int64, the
coordinates float64. Readers validate every row and raise :class:`InputError` naming the
file, the line and the problem.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
from astropy.table import Table

from ..errors import InputError
from ..geometry import right_end_first
from .atomic import atomic_write

STREAK_COLUMNS = ("frame", "id", "x1", "y1", "x2", "y2")
POINT_COLUMNS = ("frame", "id", "x", "y")
INT_COLUMNS = ("frame", "id", "norad")  # norad: catalogue number of an identified object (0 = none)
# Columns kept as text; every other column must be numeric.
TEXT_COLUMNS = ("time", "flag", "time_start", "time_end", "time1", "time2", "name", "sequence", "designator")


def flagged_missing(row, header) -> bool:
    """True for a row that records a frame where an object was not found.

    Such rows carry NaN coordinates and a ``flag`` other than ``ok`` (for example
    ``collision`` or ``faint``, [TRK] sec. 5.2); evaluation skips them.
    """
    if "flag" not in header:
        return False
    return row[header.index("flag")].strip().lower() not in ("", "ok")


def detections_only(table: Table) -> Table:
    """The rows that are detections: drops rows with NaN coordinates (flagged misses)."""
    if len(table) == 0:
        return table
    cols = ("x1", "y1", "x2", "y2") if table_kind(table.colnames) == "streak" else ("x", "y")
    keep = np.ones(len(table), bool)
    for c in cols:
        keep &= np.isfinite(np.asarray(table[c], dtype=float))
    return table if keep.all() else table[keep]


def table_kind(columns) -> str:
    """Return ``"streak"`` or ``"point"`` from a table's column names."""
    columns = set(columns)
    if columns & {"x1", "y1", "x2", "y2"}:
        return "streak"
    if columns & {"x", "y"}:
        return "point"
    raise InputError(
        "table has neither streak columns (x1,y1,x2,y2) nor point columns (x,y); "
        f"columns are {','.join(sorted(columns)) or 'none'}"
    )


def required_columns(kind: str) -> tuple[str, ...]:
    if kind == "streak":
        return STREAK_COLUMNS
    if kind == "point":
        return POINT_COLUMNS
    raise ValueError(f"unknown table kind {kind!r}; use 'streak' or 'point'")


def empty_table(kind: str, extra: tuple[str, ...] = ()) -> Table:
    """An empty table of the given kind with the right column types."""
    cols = required_columns(kind) + tuple(extra)
    dtypes = [np.int64 if c in INT_COLUMNS else ("U64" if c in TEXT_COLUMNS else np.float64) for c in cols]
    return Table(names=cols, dtype=dtypes)


def normalize_streaks(table: Table) -> Table:
    """Swap endpoints in place where needed so that ``(x1, y1)`` is the left endpoint."""
    if len(table) == 0:
        return table
    x1, y1, x2, y2 = (np.asarray(table[c], dtype=float) for c in ("x1", "y1", "x2", "y2"))
    swap = right_end_first(x1, y1, x2, y2)
    if swap.any():
        for a, b in (("x1", "x2"), ("y1", "y2"), ("ra1", "ra2"), ("dec1", "dec2"), ("time1", "time2")):
            if a in table.colnames and b in table.colnames:
                ta, tb = table[a][swap].copy(), table[b][swap].copy()
                table[a][swap], table[b][swap] = tb, ta
    return table


def read_table(path: str | os.PathLike, kind: str | None = None) -> Table:
    """Read a streak or point table from CSV, validating every row.

    Parameters
    ----------
    path : path to the CSV file (header row first).
    kind : ``"streak"``, ``"point"`` or None to decide from the columns.

    Raises
    ------
    InputError
        on a missing file, missing columns, a non-numeric or non-finite value, a negative
        or non-integer frame, a non-integer id, or a duplicate ``(frame, id)``; the message
        names the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such table file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:  # -sig: Excel's byte-order mark
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read as CSV text ({exc})") from None
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise InputError(f"{path}: empty file, expected a header row")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise InputError(f"{path}: duplicate column names in the header")
    try:
        detected = table_kind(header)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    kind = kind or detected
    missing = [c for c in required_columns(kind) if c not in header]
    if missing:
        raise InputError(f"{path}: missing column(s) {','.join(missing)} for a {kind} table")

    ncol = len(header)
    values: dict[str, list] = {c: [] for c in header}
    seen: dict[tuple[int, int], int] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) != ncol:
            raise InputError(f"{path}: line {lineno}: {len(row)} fields, header has {ncol}")
        for name, raw in zip(header, row):
            raw = raw.strip()
            if name in TEXT_COLUMNS:
                values[name].append(raw)
                continue
            try:
                v = float(raw)
            except ValueError:
                raise InputError(f"{path}: line {lineno}: column {name} is not a number ({raw!r})") from None
            if name in INT_COLUMNS:
                if not math.isfinite(v) or v != int(v):
                    raise InputError(f"{path}: line {lineno}: {name} must be an integer, got {raw!r}")
                if name == "frame" and v < 0:
                    raise InputError(f"{path}: line {lineno}: negative frame {raw}")
                v = int(v)
            elif name in required_columns(kind) and not math.isfinite(v) and not (
                    math.isnan(v) and flagged_missing(row, header)):
                raise InputError(f"{path}: line {lineno}: column {name} is not finite ({raw!r})")
            values[name].append(v)
        key = (values["frame"][-1], values["id"][-1])
        if key in seen:
            raise InputError(
                f"{path}: line {lineno}: duplicate (frame, id) = {key}, first on line {seen[key]}"
            )
        seen[key] = lineno

    table = empty_table(kind, tuple(c for c in header if c not in required_columns(kind)))
    if values["frame"]:
        cols = []
        for name in table.colnames:
            if name in INT_COLUMNS:
                cols.append(np.asarray(values[name], dtype=np.int64))
            elif name in TEXT_COLUMNS:
                cols.append(np.asarray(values[name], dtype=str))
            else:
                cols.append(np.asarray(values[name], dtype=np.float64))
        table = Table(cols, names=table.colnames)
    if kind == "streak":
        normalize_streaks(table)
    table.meta["kind"] = kind
    return table


def table_columns(table: Table) -> list[str]:
    """The CSV column order of a table: the kind's required columns first, then the rest."""
    req = required_columns(table_kind(table.colnames))
    return list(req) + [c for c in table.colnames if c not in req]


def format_rows(table: Table, order: list[str], fh) -> None:
    """Write ``table``'s rows as CSV lines in the columns ``order`` to the text file ``fh``,
    sorted by (frame, id), streaks left endpoint first. A column of ``order`` that the table
    lacks is written empty (text) or ``nan``; columns not in ``order`` are left out."""
    if table_kind(table.colnames) == "streak":
        table = normalize_streaks(table.copy())
    if len(table):
        idx = np.lexsort((np.asarray(table["id"]), np.asarray(table["frame"])))
        table = table[idx]
    writer = csv.writer(fh, lineterminator="\n")
    columns = [table[c] if c in table.colnames else None for c in order]
    for i in range(len(table)):
        writer.writerow(_format(col[i], name) if col is not None else ("" if name in TEXT_COLUMNS else "nan")
                        for col, name in zip(columns, order))


def write_table(table: Table, path: str | os.PathLike) -> None:
    """Write a table as CSV atomically, required columns first, rows sorted by (frame, id)."""
    order = table_columns(table)
    with atomic_write(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerow(order)
        format_rows(table, order, fh)


def _format(value, name: str) -> str:
    if name in INT_COLUMNS:
        return str(int(value))
    if isinstance(value, (str, np.str_)):
        return str(value)
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (np.integer, int)):
        return str(int(value))
    v = float(value)
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return repr(v)  # shortest text that reads back to the same float
