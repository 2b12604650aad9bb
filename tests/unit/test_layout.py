"""Tests and benches share code through ``tests/support/``, never through each other.

A test module that imports another one drags that module's tests, fixtures and
set-up into its own namespace, and ties two files that only meant to share a
helper. So: helpers live in ``tests/support/``; ``conftest.py`` holds only
fixtures (and is never imported); benchmarks reuse ``tests/support/`` too and
never import a test module or another benchmark script.

The layout of ``src/`` has one rule here too: no module over 400 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imported_modules(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Per import statement of ``path``: its line and the absolute names it may import.

    ``from a.b import c`` may import module ``a.b.c`` as well as name ``c`` of
    ``a.b``; both are listed.
    """
    package = _module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield node.lineno, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            yield node.lineno, [base, *(f"{base}.{alias.name}" for alias in node.names)]


def is_test_module(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "tests" and any(p.startswith("test_") or p == "conftest" for p in parts[1:])


def is_bench_script(name: str) -> bool:
    return name.split(".")[-1].startswith("bench_")


def offences(paths: list[Path], forbidden: Callable[[str], bool]) -> list[str]:
    found = []
    for path in paths:
        for line, names in imported_modules(path):
            if any(forbidden(name) for name in names):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {names[0]}")
    return found


def test_no_test_module_imports_another_test_module_or_a_conftest() -> None:
    modules = [p for p in (ROOT / "tests").rglob("*.py") if p.name != "conftest.py"]
    assert len(modules) > 20, "the test tree was not found"
    assert offences(modules, is_test_module) == []


def test_no_bench_imports_a_test_module_or_another_bench_script() -> None:
    scripts = sorted((ROOT / "bench").glob("*.py"))
    assert scripts, "the bench folder was not found"
    assert offences(scripts, lambda n: is_test_module(n) or is_bench_script(n)) == []


@pytest.mark.parametrize(
    ("source", "where", "caught"),
    [
        ("from tests.api.test_auth import token", "tests/api/test_faults.py", True),
        ("from tests.api import test_appeals", "tests/api/test_subject.py", True),
        ("import tests.integration.test_ledger as ledger", "tests/unit/x.py", True),
        ("from .test_appeals import Cast", "tests/api/test_subject.py", True),
        ("from . import test_appeals", "tests/api/test_subject.py", True),
        ("from ..integration.test_ledger import domain_report", "tests/api/test_x.py", True),
        ("from tests.conftest import Api", "tests/api/test_x.py", True),
        ("from tests.support.api import Api", "tests/api/test_x.py", False),
        ("from tests.support import factories", "tests/api/test_x.py", False),
        ("from tests.unit import reference_scoring as ref", "tests/unit/test_scoring.py", False),
        ("from refund_registry.testing import x", "tests/unit/test_x.py", False),
    ],
)
def test_the_check_sees_every_spelling_of_an_import(
    tmp_path: Path, source: str, where: str, caught: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / where
    fake.parent.mkdir(parents=True)
    fake.write_text(source + "\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert bool(offences([fake], is_test_module)) is caught


MAX_MODULE_LINES = 400
"""The codebase's ceiling: a module longer than this holds more than one concern."""


def module_lengths(root: Path) -> dict[str, int]:
    """The number of lines of every Python module under ``root/src``, by path from ``root``."""
    return {
        path.relative_to(root).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted((root / "src").rglob("*.py"))
    }


def too_long(lengths: dict[str, int]) -> list[str]:
    return [f"{path}: {count} lines" for path, count in lengths.items() if count > MAX_MODULE_LINES]


def test_no_module_under_src_is_over_400_lines() -> None:
    lengths = module_lengths(ROOT)
    assert len(lengths) > 50, "the source tree was not found"
    assert too_long(lengths) == []


def test_the_length_check_names_each_offender_with_its_count(tmp_path: Path) -> None:
    package = tmp_path / "src" / "pkg"
    package.mkdir(parents=True)
    (package / "short.py").write_text("x = 1\n" * MAX_MODULE_LINES)
    (package / "long.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    lengths = module_lengths(tmp_path)
    assert too_long(lengths) == ["src/pkg/long.py: 401 lines"]
