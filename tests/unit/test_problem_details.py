"""Every problem ``detail`` the code can raise reads in Chinese, values kept as they are.

The sentences are found in the source itself: each call that builds an error
(an error class, or a helper that takes the detail) with a literal or an
f-string. Each f-string value becomes a stand-in, and the sentence must be one
of the catalogs' (exactly, or through a ``%(name)s`` template).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from http import HTTPStatus
from importlib import resources
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from refund_registry import errors
from refund_registry.domain import oprf, tokens
from refund_registry.http import problems
from refund_registry.i18n import gettext, marked

PACKAGE = Path(str(resources.files("refund_registry")))
SKIPPED = ("cli", "client")
"""Operators' command lines (English is allowed there) and the SDK, which raises locally."""
HELPERS = {"fail": 1, "_malformed": 0, "_bad_url": 0, "bad": 2, "Violation": 2}
"""Functions that take a detail as their ``n``-th argument, besides the error classes."""
HAN = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
STAND_IN = re.compile(r"\bv\d+\b")


@dataclass(frozen=True)
class Site:
    where: str
    english: str
    """The sentence as raised, each value replaced by a stand-in ``v1``, ``v2``, …"""


def _trees() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(PACKAGE)): ast.parse(path.read_text(encoding="utf-8"))
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] not in SKIPPED
    }


def _error_classes(trees: dict[str, ast.Module]) -> set[str]:
    """The names of every class derived, directly or not, from ``RegistryError``."""
    names = {errors.RegistryError.__name__}
    grown = True
    while grown:
        grown = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    bases = {
                        b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "")
                        for b in node.bases
                    }
                    if bases & names:
                        names.add(node.name)
                        grown = True
    return names


class _Sentence:
    """Renders a literal, an f-string or a concatenation of them with stand-ins for values."""

    def __init__(self) -> None:
        self.count = 0

    def value(self) -> str:
        self.count += 1
        return f"v{self.count}"

    def render(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            parts = [v.value if isinstance(v, ast.Constant) else self.value() for v in node.values]
            return "".join(str(p) for p in parts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.render(node.left), self.render(node.right)
            return None if left is None or right is None else left + right
        if isinstance(node, ast.IfExp):
            return self.render(node.body)
        if isinstance(node, ast.Call):
            return self.value()
        return None  # a name: a detail passed on, found where it was written


def raise_sites() -> list[Site]:
    trees = _trees()
    classes = _error_classes(trees)
    sites: list[Site] = []
    for module, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            index = HELPERS.get(name, 0 if name in classes else None)
            if index is None:
                continue
            arg = node.args[index] if len(node.args) > index else None
            arg = next((k.value for k in node.keywords if k.arg == "detail"), arg)
            english = None if arg is None else _Sentence().render(arg)
            # Only values (``f"{where}: {detail}"``): sentences checked where they are written.
            if english is not None and re.search("[A-Za-z]", STAND_IN.sub("", english)):
                sites.append(Site(f"{module}:{node.lineno}", english))
    return sites


SITES = raise_sites()


def test_the_walk_finds_the_raise_sites() -> None:
    assert len(SITES) > 200
    assert any(s.english == "no report v1" for s in SITES)


def test_every_raised_detail_is_a_catalog_sentence_in_chinese() -> None:
    untranslated = []
    for site in SITES:
        zh = problems.translated("zh-CN", site.english)
        if zh is None or not HAN.search(zh):
            untranslated.append(f"{site.where}: {site.english}")
        else:
            # The values a detail quotes come through untouched.
            for value in re.findall(r"\bv\d+\b", site.english):
                assert re.search(rf"\b{value}\b", zh), (site, zh)
    assert not untranslated, "\n".join(untranslated)


def test_in_english_every_raised_detail_is_itself() -> None:
    for site in SITES:
        assert problems.translate("en", site.english) == site.english, site


def test_details_kept_in_tables_are_translated() -> None:
    tables = [d for _, d in tokens._FIELD_CODES.values()]
    tables += [oprf._b64_detail("pseudonym"), oprf._b64_detail(None)]
    for detail in tables:
        assert HAN.search(problems.translate("zh-CN", detail)), detail


def test_a_named_field_before_a_sentence_stays_as_it_is() -> None:
    en = "queries[3].identifiers[0].pseudonym: must be 86 base64url characters (64 bytes)"
    zh = problems.translate("zh-CN", en)
    assert zh.startswith("queries[3].identifiers[0].pseudonym：")
    assert zh.endswith(gettext("zh-CN", "must be 86 base64url characters (64 bytes)"))
    assert problems.translated("zh-CN", "nothing: of the catalogs") is None


def test_violations_carry_their_detail_in_the_language() -> None:
    extra = {
        "violations": [
            {"code": "report.pseudonym", "field": "x", "detail": "the same pseudonym twice"}
        ],
        "invalid_items": [{"index": 2, "violations": [{"detail": "also used by item 0"}]}],
        "retry_after": 3,
    }
    zh = problems.localise_extra("zh-CN", extra)
    assert zh["violations"][0] == {**extra["violations"][0], "detail": "同一个假名出现了两次"}
    assert zh["invalid_items"][0]["violations"][0]["detail"] == "第 0 项也使用了此值"
    assert zh["retry_after"] == 3
    assert problems.localise_extra("en", extra) == extra


TEMPLATES = [m for m in marked(problems.DETAIL_MARK) if PLACEHOLDER.search(m)]
VALUE = st.from_regex(r"[A-Za-z0-9_.'\[\]-]{1,16}", fullmatch=True)


@given(st.sampled_from(TEMPLATES), st.data())
def test_a_template_with_any_values_reads_as_its_translation(
    template: str, data: st.DataObject
) -> None:
    values = {name: data.draw(VALUE) for name in PLACEHOLDER.findall(template)}
    english = template % values
    assert problems.translate("en", english) == english
    assert problems.translate("zh-CN", english) == gettext("zh-CN", template) % values


def test_the_frameworks_own_details_are_translated() -> None:
    """Litestar refuses with the status phrase as the detail (``Not Found``, …)."""
    for status in problems._HTTP_CODES:
        phrase = HTTPStatus(status).phrase
        assert HAN.search(problems.translate("zh-CN", phrase)), phrase


def test_a_very_long_detail_is_left_as_it_is() -> None:
    long = "no report '" + "x" * 5000 + "'"
    assert problems.translated("zh-CN", long) is None
    assert problems.translate("zh-CN", long) == long
