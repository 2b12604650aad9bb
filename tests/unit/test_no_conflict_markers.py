"""No text file of the repository holds a merge-conflict marker line."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("src", "tests", "docs", "bench", "deploy", ".ci")
SUFFIXES = {".py", ".md", ".sql", ".po", ".html", ".js", ".css", ".yml", ".yaml", ".toml", ""}
MARKER = re.compile(r"^(<{7}|>{7}|={7})( |$)", re.MULTILINE)


def text_files() -> list[Path]:
    found = [ROOT / "README.md", ROOT / "README.zh-CN.md", ROOT / "pyproject.toml"]
    for folder in FOLDERS:
        found += [p for p in (ROOT / folder).rglob("*") if p.is_file() and p.suffix in SUFFIXES]
    return [p for p in found if "__pycache__" not in p.parts]


def test_no_file_holds_a_conflict_marker() -> None:
    files = text_files()
    assert len(files) > 100
    marked = [
        str(p.relative_to(ROOT))
        for p in files
        if MARKER.search(p.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not marked, marked


def test_the_marker_pattern_finds_a_marker() -> None:
    assert MARKER.search("text\n<<<<<<< HEAD\nmore\n")
    assert MARKER.search("=======\n")
    assert not MARKER.search("a ======= b\n")
