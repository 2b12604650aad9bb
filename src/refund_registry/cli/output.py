"""How commands print results: plain text for people, JSON (``--json``) for scripts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TextIO


def write_json(out: TextIO, value: Any) -> None:
    """One JSON document, indented, ending with a newline."""
    out.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value) if value else "-"
    return str(value)


def write_fields(out: TextIO, fields: Mapping[str, Any]) -> None:
    """``key: value`` lines with the values aligned."""
    if not fields:
        return
    width = max(len(k) for k in fields) + 1
    for key, value in fields.items():
        out.write(f"{key + ':':<{width}} {_text(value)}\n")


def write_table(
    out: TextIO, columns: Sequence[tuple[str, str]], rows: Sequence[Mapping[str, Any]]
) -> None:
    """An aligned table; ``columns`` are ``(heading, key)`` pairs. The last column is not padded."""
    cells = [[_text(row.get(key)) for _, key in columns] for row in rows]
    headings = [heading for heading, _ in columns]
    widths = [max(len(r[i]) for r in [headings, *cells]) for i in range(len(columns))]
    for line in [headings, *cells]:
        padded = [c.ljust(w) for c, w in zip(line[:-1], widths[:-1], strict=True)]
        out.write("  ".join([*padded, line[-1]]).rstrip() + "\n")
