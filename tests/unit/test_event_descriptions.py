"""Every event on a member's feed describes itself in one sentence, in either language."""

from __future__ import annotations

import ast
import re
from functools import partial
from importlib import resources
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from refund_registry.domain import feed
from refund_registry.domain.appeals import states
from refund_registry.domain.webhooks import DISABLED_EVENT
from refund_registry.i18n import gettext

PACKAGE = Path(str(resources.files("refund_registry")))
HAN = re.compile(r"[\u4e00-\u9fff]")


def written_types() -> set[str]:
    """The event types the code writes: each ``Event(at, type, …)`` and the appeal table's."""
    found = {states.OPENED_EVENT, DISABLED_EVENT}
    found.update(row[2] for row in states.TABLE.values())
    for path in (PACKAGE / "services").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            func = node.func
            if (
                func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            ) != "Event":
                continue
            kind = node.args[1]
            if isinstance(kind, ast.Name):  # ``event = "a" if … else "b"`` just above
                continue
            found.update(
                c.value
                for c in ast.walk(kind)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            )
    # ``report.overturned`` or ``report.reinstated``: named after the appeal's effect on the report.
    found.update(f"report.{effect}" for effect in states.REPORT_STATUS_AFTER)
    return found


def test_every_written_event_type_has_its_own_sentence() -> None:
    written = written_types()
    assert {"report.filed", "appeal.closed", "report.overturned_after_your_query"} <= written
    assert written == set(feed.DESCRIPTION)


IDS = st.from_regex(r"(rpt|apl|wh)_[a-z0-9]{1,12}", fullmatch=True)


@given(st.sampled_from(sorted(feed.DESCRIPTION)), IDS, IDS)
def test_a_description_names_the_items_ids_in_both_languages(
    kind: str, report_id: str, appeal_id: str
) -> None:
    item = {
        "type": kind,
        "report_id": report_id,
        "appeal_id": appeal_id,
        "webhook_id": appeal_id,
        "attempts": 8,
        "case_reference": "ORD-1",
    }
    english = feed.describe(item)
    chinese = feed.describe(item, partial(gettext, "zh-CN"))
    assert feed.describe(item, partial(gettext, "en")) == english
    assert HAN.search(chinese)
    assert not HAN.search(english)
    for field in re.findall(r"%\((\w+)\)s", feed.DESCRIPTION[kind]):
        assert str(item[field]) in english
        assert str(item[field]) in chinese


def test_an_unknown_type_still_gets_a_sentence() -> None:
    item = {"type": "report.something_new"}
    assert feed.describe(item) == "Event report.something_new."
    assert feed.describe(item, partial(gettext, "zh-CN")) == "事件 report.something_new。"
