"""Every error code the source can produce is in docs/errors.md, and nothing more.

Codes are found in the source by their shape, not by hand: a class attribute
``code = "…"`` (an error class), a keyword argument ``code="…"`` (or
``code=NAME`` of a module constant), the first argument of ``Violation(…)``,
and calls to helpers that build a code from a prefix and their argument
(``fail("expired")`` is ``auth.expired``; ``f"{prefix}.pseudonym"`` with the
prefixes the helper is called with). A code passed through a variable is
listed in ``INDIRECT`` with the literal the source must still contain.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "refund_registry"
DOC = ROOT / "docs" / "errors.md"
CODE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
DOC_ROW = re.compile(r"^\|\s*`([a-z][a-z0-9_.]*)`\s*\|\s*(\d{3})\s*\|", re.MULTILINE)

# Codes the source chooses from data rather than spelling at the raise:
# code -> a literal that must still appear in src/ for the code to exist.
INDIRECT = {
    "auth.key_revoked": '"key_revoked"',
    "auth.principal_inactive": '"principal_inactive"',
}


def _trees() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(SRC.rglob("*.py"))}


def _name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _templates(fn: ast.FunctionDef) -> Iterator[tuple[str | None, int, str]]:
    """``(prefix, parameter index, suffix)`` of every code the function builds from a parameter.

    ``f"auth.{code}"`` gives ``("auth.", i, "")``; ``f"{prefix}.pseudonym"`` gives
    ``(None, i, ".pseudonym")``.
    """
    params = [a.arg for a in fn.args.args]
    for node in ast.walk(fn):
        if not isinstance(node, ast.Call):
            continue
        candidates = [kw.value for kw in node.keywords if kw.arg == "code"]
        if _name(node) == "Violation" and node.args:
            candidates.append(node.args[0])
        for value in candidates:
            if not isinstance(value, ast.JoinedStr):
                continue
            parts = value.values
            names = [p for p in parts if isinstance(p, ast.FormattedValue)]
            if len(names) != 1 or not isinstance(names[0].value, ast.Name):
                continue
            if names[0].value.id not in params:
                continue
            index = params.index(names[0].value.id)
            if len(parts) == 2 and parts[1] is names[0] and _str(parts[0]):
                yield _str(parts[0]), index, ""
            elif len(parts) == 2 and parts[0] is names[0] and _str(parts[1]):
                yield None, index, _str(parts[1]) or ""


def source_codes() -> dict[str, set[str]]:
    """Every error code spelled in src/, with the files that spell it."""
    trees = _trees()
    found: dict[str, set[str]] = {}

    def add(code: str | None, path: Path) -> None:
        if code and CODE.fullmatch(code):
            found.setdefault(code, set()).add(str(path.relative_to(SRC)))

    calls: dict[str, list[tuple[Path, ast.Call]]] = {}
    templates: dict[str, list[tuple[str | None, int, str]]] = {}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (name := _name(node)):
                calls.setdefault(name, []).append((path, node))
            if isinstance(node, ast.FunctionDef):
                templates.setdefault(node.name, []).extend(_templates(node))

    for path, tree in trees.items():
        constants = {
            target.id: _str(node.value)
            for node in tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    target = (
                        stmt.targets[0]
                        if isinstance(stmt, ast.Assign)
                        else stmt.target
                        if isinstance(stmt, ast.AnnAssign)
                        else None
                    )
                    if isinstance(target, ast.Name) and target.id == "code":
                        add(_str(stmt.value), path)  # type: ignore[union-attr]
            elif isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "code":
                        value = kw.value
                        add(_str(value), path)
                        if isinstance(value, ast.Name):
                            add(constants.get(value.id), path)
                if _name(node) == "Violation" and node.args:
                    add(_str(node.args[0]), path)

    for name, shapes in templates.items():
        for prefix, index, suffix in shapes:
            for path, call in calls.get(name, []):
                arg = call.args[index] if index < len(call.args) else None
                if (literal := _str(arg)) is not None:
                    add(f"{prefix}{literal}" if prefix is not None else f"{literal}{suffix}", path)
    return found


def documented_codes() -> dict[str, int]:
    return {code: int(status) for code, status in DOC_ROW.findall(DOC.read_text("utf-8"))}


def test_the_scan_finds_codes_of_every_shape() -> None:
    codes = source_codes()
    # a class attribute, a keyword, a helper with a prefix, a prefixed f-string, a Violation
    for code in (
        "request.invalid_body",
        "report.not_found",
        "auth.expired",
        "query.pseudonym",
        "report.retention_ended",
    ):
        assert code in codes, code


def test_indirect_codes_still_have_their_source() -> None:
    text = "\n".join(p.read_text("utf-8") for p in SRC.rglob("*.py"))
    for code, literal in INDIRECT.items():
        assert literal in text, f"{code}: {literal} no longer appears in src/; update INDIRECT"


def test_every_code_in_the_source_is_documented() -> None:
    missing = sorted((set(source_codes()) | set(INDIRECT)) - set(documented_codes()))
    assert not missing, f"add these codes to docs/errors.md: {missing}"


def test_every_documented_code_exists() -> None:
    known = set(source_codes()) | set(INDIRECT)
    stale = sorted(set(documented_codes()) - known)
    assert not stale, f"docs/errors.md lists codes the source no longer produces: {stale}"


def test_documented_statuses_match_the_error_classes() -> None:
    """The status in the docs is the one the problem document carries."""
    from refund_registry.http.openapi import _EXAMPLES

    documented = documented_codes()
    for code, (cls, _) in _EXAMPLES.items():
        assert documented.get(code) == cls.status, (code, documented.get(code), cls.status)
