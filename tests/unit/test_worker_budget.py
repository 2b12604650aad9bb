"""The connection budget ``serve --workers N`` checks against PostgreSQL before starting."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from refund_registry.cli.workers import ConnectionBudget, default_workers, per_process
from refund_registry.config import Settings


@given(
    workers=st.integers(1, 512),
    each=st.integers(2, 1001),
    child=st.booleans(),
    max_connections=st.integers(1, 10_000),
    reserved=st.integers(0, 100),
)
def test_refused_exactly_when_the_pools_could_outgrow_the_server(
    workers: int, each: int, child: bool, max_connections: int, reserved: int
) -> None:
    budget = ConnectionBudget(workers, each, each if child else 0, max_connections, reserved)
    needed = workers * each + (each if child else 0)
    refusal = budget.refusal()
    assert (refusal is None) == (needed <= max_connections - reserved)
    if refusal is not None:
        assert f"{workers} workers x {each} connections each" in refusal
        assert str(max_connections) in refusal


def test_each_process_counts_its_pool_and_its_listener() -> None:
    assert per_process(Settings(db_pool_max=10)) == 11


def test_one_worker_in_zero_setup_mode_one_per_core_in_production() -> None:
    assert default_workers(Settings()) == 1
    assert default_workers(Settings(environment="production")) >= 1
