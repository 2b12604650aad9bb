"""The background duties, shared by ``refund-registry worker`` and by ``serve``
in zero-setup mode (so that a single command runs the whole registry).

Every duty is safe in several processes at once: retention expiry and appeal
deadlines claim their rows with ``SKIP LOCKED``, webhook deliveries lease
their endpoints (``services.webhooks``), and the sequencer holds an advisory
lock. Running them in ``serve`` and in a ``worker`` together only shares the
work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from refund_registry.errors import RegistryError
from refund_registry.services.appeals import AppealService
from refund_registry.services.audit import expire_subject_links
from refund_registry.services.ledger import Ledger
from refund_registry.services.webhooks import WebhookService
from refund_registry.storage.used_jtis import prune_used_jtis

log = logging.getLogger("refund_registry.duties")

PASS_INTERVAL = 30.0
"""Seconds between two passes of the periodic duties."""
DELIVERY_INTERVAL = 1.0
"""Seconds a delivery loop with nothing due waits before looking again."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Duties:
    pool: asyncpg.Pool
    ledger: Ledger
    appeals: AppealService
    webhooks: WebhookService

    async def run_pass(self, moment: datetime) -> dict[str, Any]:
        """One pass of the periodic duties as of ``moment``; what each did."""
        return {
            "as_of": moment.isoformat(),
            # Expiry first: an appeal whose report expired closes in this pass.
            "expired": await self.ledger.expire(moment),
            "appeal_deadlines": await self.appeals.run_deadlines(moment),
            "subject_links_expired": await expire_subject_links(self.pool, moment),
            "webhook_log_pruned": await self.webhooks.prune(moment),
            "used_jtis_pruned": await prune_used_jtis(self.pool, moment),
        }

    async def run(
        self,
        stop: asyncio.Event,
        *,
        interval: float = PASS_INTERVAL,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """Periodic passes and webhook deliveries until ``stop`` is set.

        A failed pass (PostgreSQL away, say) is logged and tried again at the
        next interval; deliveries run in their own loop, so a slow pass never
        holds them back.
        """
        deliveries = asyncio.create_task(
            self.webhooks.run(stop, interval=DELIVERY_INTERVAL), name="webhook-deliveries"
        )
        try:
            while not stop.is_set():
                try:
                    log.info("worker pass", extra=await self.run_pass(clock()))
                except RegistryError as exc:
                    log.warning("worker pass failed", extra={"code": exc.code})
                except Exception:
                    log.exception("worker pass failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)
        finally:
            stop.set()
            await deliveries
