"""Named SQL queries, loaded once from the ``.sql`` files beside this module.

A file holds several queries, each introduced by a ``-- name: <name>`` line.
No SQL is assembled at run time; a test prepares every query against the real
schema so that a typo fails CI rather than a request.
"""

from __future__ import annotations

import re
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
SQL_DIR = Path(__file__).parent / "sql"


def parse(text: str, source: str = "<sql>") -> dict[str, str]:
    """Split one file into ``{name: sql}``; duplicate names are a programming error."""
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"{source}: query {name!r} defined twice")
        sql = body.strip()
        if not sql:
            raise ValueError(f"{source}: query {name!r} is empty")
        queries[name] = sql
    return queries


def load(directory: Path = SQL_DIR) -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted(directory.glob("*.sql")):
        for name, sql in parse(path.read_text(), path.name).items():
            if name in queries:
                raise ValueError(f"{path.name}: query {name!r} already defined in another file")
            queries[name] = sql
    return queries


Q: dict[str, str] = load()
