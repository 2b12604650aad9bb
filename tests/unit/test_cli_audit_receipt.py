"""``refund-registry audit receipt``: receipts of either version checked offline."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from refund_registry.cli.audit import cmd_receipt, receipts_in

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"
V1: dict[str, Any] = json.loads((VECTORS / "receipt.json").read_text(encoding="utf-8"))
V2: dict[str, Any] = json.loads((VECTORS / "receipt-v2.json").read_text(encoding="utf-8"))
KEY = V2["log_key"]["verifier_key"]


def _run(tmp_path: Path, document: Any, key: str | None = KEY) -> tuple[int, str]:
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    out = io.StringIO()
    code = cmd_receipt(argparse.Namespace(files=[str(path)], verifier_key=key), out)
    return code, out.getvalue()


def test_both_versions_verify(tmp_path: Path) -> None:
    batch = {"results": [{"receipt": r} for r in V2["receipts"]]}
    code, out = _run(tmp_path, [{"receipt": V1["receipt"]}, batch])
    assert code == 0
    assert out.count("VERIFIED") == 6
    assert out.count("(v2)") == 5


@pytest.mark.parametrize("case", V2["invalid"], ids=[c["why"] for c in V2["invalid"]])
def test_a_bad_receipt_fails(tmp_path: Path, case: dict[str, Any]) -> None:
    code, out = _run(tmp_path, [V1["receipt"], case["receipt"]])
    assert code == 1
    assert out.count("VERIFIED") == 1
    assert out.count("FAILED") == 1


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    assert _run(tmp_path, V1["receipt"], key=None)[0] == 2
    assert _run(tmp_path, V1["receipt"], key="not a key")[0] == 2
    assert _run(tmp_path, {"no": "receipt"})[0] == 2


def test_receipts_are_found_in_answers() -> None:
    assert receipts_in({"receipt": V1["receipt"], "score": 0}) == [V1["receipt"]]
    assert receipts_in([1, "x", {"results": [{"receipt": V1["receipt"]}]}]) == [V1["receipt"]]
