"""The metric names a PromQL expression reads, for checking alert rules without promtool.

Not a PromQL parser: it removes what cannot be a metric name (strings, label
matchers, range and offset durations, the label lists of ``by``/``without``/
``on``/``ignoring``/``group_left``/``group_right``, numbers) and keeps every
remaining identifier that is neither a keyword nor followed by ``(`` (a
function or aggregation). Enough for rule files written plainly, which ours are.
"""

from __future__ import annotations

import re

KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
     "bool", "offset", "inf", "nan"}
)  # fmt: skip

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_LABEL_LIST = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_OFFSET = re.compile(r"\boffset\s+-?[0-9a-z]+", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![A-Za-z_:])[0-9][0-9a-zA-Z_.]*")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    text = _STRING.sub(" ", expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names: set[str] = set()
    for match in _IDENT.finditer(text):
        rest = text[match.end() :].lstrip()
        word = match.group(0)
        if word.lower() in KEYWORDS or rest.startswith("("):
            continue
        names.add(word)
    return names


def exposed_names(exposition: str) -> set[str]:
    """Every metric family named in a text exposition (``# TYPE`` lines), with
    the sample names of histograms and counters (``_bucket``, ``_total`` …)."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names
