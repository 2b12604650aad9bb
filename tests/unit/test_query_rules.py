"""A risk query's one-pass check agrees with the rules it stands in for.

The risk service decodes every pseudonym of a request at once
(``wire.decode_all``) and asks ``inquiry.passes`` of each item; only when
either fails does it go through ``inquiry.validate``, which names every
broken rule. So an item must pass both exactly when ``validate`` finds nothing.
"""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from refund_registry.domain import inquiry, wire
from refund_registry.domain.identity import KINDS
from refund_registry.domain.reports import MAX_IDENTIFIERS, PSEUDONYM_BYTES


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


canonical = st.binary(min_size=PSEUDONYM_BYTES, max_size=PSEUDONYM_BYTES).map(b64)
pseudonyms = st.one_of(
    canonical,
    canonical,
    canonical.map(lambda t: t[:-1] + "B"),  # unused low bits set, or a valid one
    st.binary(min_size=PSEUDONYM_BYTES - 1, max_size=PSEUDONYM_BYTES + 1).map(b64),
    st.text(max_size=90),
)
kinds = st.one_of(st.sampled_from(sorted(KINDS)), st.text(max_size=12))
purposes = st.one_of(st.sampled_from(sorted(inquiry.PURPOSES)), st.text(max_size=20))


@st.composite
def items(draw: st.DrawFn) -> inquiry.QueryItem:
    if draw(st.booleans()):  # anything at all
        identifiers = draw(st.lists(st.tuples(kinds, pseudonyms), max_size=MAX_IDENTIFIERS + 1))
    else:  # a good item, then perhaps one thing wrong with it
        chosen = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, unique=True))
        distinct = st.lists(
            canonical, min_size=len(chosen) + 1, max_size=len(chosen) + 1, unique=True
        )
        *spelled, spare = draw(distinct)
        identifiers = list(zip(chosen, spelled, strict=True))
        kind, pseudonym = draw(st.sampled_from(identifiers))
        wrong = draw(st.sampled_from(["none", "kind", "pseudonym", "both", "bad"]))
        if wrong == "kind":  # the same kind again, another buyer's pseudonym
            identifiers.append((kind, spare))
        elif wrong == "pseudonym":  # the same pseudonym under another kind
            identifiers.append((draw(kinds.filter(lambda k: k != kind)), pseudonym))
        elif wrong == "both":
            identifiers.append((kind, pseudonym))
        elif wrong == "bad":
            identifiers[0] = (draw(kinds), draw(pseudonyms))
    return inquiry.QueryItem(tuple(identifiers), draw(purposes))


@given(items())
def test_an_item_passes_the_one_pass_check_exactly_when_it_breaks_no_rule(
    item: inquiry.QueryItem,
) -> None:
    decoded = wire.decode_all([p for _, p in item.identifiers], PSEUDONYM_BYTES)
    fast = decoded is not None and inquiry.passes(item)
    assert fast == (inquiry.validate(item) == [])


@given(st.lists(items(), min_size=1, max_size=5))
def test_a_request_passes_exactly_when_each_item_does(batch: list[inquiry.QueryItem]) -> None:
    # What the service checks for a whole request, against item by item.
    decoded = wire.decode_all([p for it in batch for _, p in it.identifiers], PSEUDONYM_BYTES)
    fast = decoded is not None and all(inquiry.passes(it) for it in batch)
    assert fast == all(inquiry.validate(it) == [] for it in batch)
