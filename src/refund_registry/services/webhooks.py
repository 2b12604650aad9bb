"""Webhooks: members' endpoints, and the delivery of their feed to them.

Registration, listing, rotation, enabling, deletion and the delivery log are
one transaction each, here. Deliveries (claiming due endpoints, sending
signed messages, recording each attempt) are ``services.webhook_delivery``;
:class:`WebhookService` hands its delivery calls to the one it builds.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from refund_registry.domain import feed as feed_rules
from refund_registry.domain import webhooks as rules
from refund_registry.domain.wire import iso
from refund_registry.errors import Conflict, NotFound
from refund_registry.services.webhook_delivery import DeliveryConfig, Sender, WebhookDelivery
from refund_registry.storage import webhooks as store
from refund_registry.storage.db import translated


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _not_found(webhook_id: str) -> NotFound:
    return NotFound(f"no webhook {webhook_id!r}", code="webhook.not_found")


def _view(row: store.Endpoint) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "status": row.status,
        "created_at": iso(row.created_at),
        "rotated_at": iso(row.rotated_at),
        "previous_secret_until": iso(row.previous_until),
        "disabled_at": iso(row.disabled_at),
        "disabled_reason": row.disabled_reason,
        "position": feed_rules.cursor(row.cursor_txid, row.cursor_id),
        "failed_attempts": row.attempt,
        "next_attempt_at": iso(row.next_attempt_at),
    }


class WebhookService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        key: bytes,
        sender: Sender,
        *,
        require_https: bool,
        clock: Callable[[], datetime] = _utcnow,
        jitter: Callable[[], float] = random.random,
        config: DeliveryConfig | None = None,
        language: str = "zh-CN",
    ) -> None:
        self.pool = pool
        self._key = key
        self.sender = sender
        self.require_https = require_https
        self.clock = clock
        # ``language``: that of each delivery's ``description``, the registry's default
        self.delivery = WebhookDelivery(
            pool, key, sender, clock=clock, jitter=jitter, config=config, language=language
        )

    def __repr__(self) -> str:  # the key stays out of any log line
        return f"WebhookService(require_https={self.require_https})"

    # -- the member's endpoints ----------------------------------------------------------

    async def register(self, member_id: str, url: str, after: str | None) -> dict[str, Any]:
        """A new endpoint; its secret is in the answer and nowhere else, ever.

        Deliveries start after ``after`` (a feed cursor; ``""`` for the whole
        feed), or, without it, after the member's latest event now.
        """
        await self.sender.check(url, require_https=self.require_https)
        start = None if after is None else feed_rules.parse_cursor(after)
        webhook_id = "whk_" + secrets.token_hex(8)
        secret = secrets.token_bytes(rules.SECRET_BYTES)
        sealed = rules.seal(self._key, webhook_id, secret, secrets.token_bytes(12))
        now = self.clock()
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            await store.lock_member(conn, member_id)
            rules.check_room(await store.count(conn, member_id))
            if start is None:
                start = await store.feed_end(conn, member_id)
            await store.insert(
                conn,
                webhook_id=webhook_id,
                member_id=member_id,
                url=url,
                secret_sealed=sealed,
                at=now,
                start=start,
            )
        return {
            "id": webhook_id,
            "url": url,
            "secret": rules.format_secret(secret),
            "status": rules.ACTIVE,
            "created_at": iso(now),
            "position": feed_rules.cursor(*start),
        }

    async def list(self, member_id: str) -> dict[str, Any]:
        async with translated(), self.pool.acquire() as conn:
            rows = await store.list_for(conn, member_id)
        return {"webhooks": [_view(r) for r in rows], "limit": rules.MAX_ENDPOINTS}

    async def delete(self, member_id: str, webhook_id: str) -> None:
        """Delete the endpoint and its log; another member's id is a 404, like an unknown one."""
        async with translated(), self.pool.acquire() as conn:
            if not await store.delete(conn, webhook_id, member_id):
                raise _not_found(webhook_id)

    async def rotate(self, member_id: str, webhook_id: str) -> dict[str, Any]:
        """A new secret; for :data:`~domain.webhooks.ROTATION_GRACE` deliveries carry
        signatures by both, so receivers can switch without missing one."""
        secret = secrets.token_bytes(rules.SECRET_BYTES)
        sealed = rules.seal(self._key, webhook_id, secret, secrets.token_bytes(12))
        now = self.clock()
        until = now + rules.ROTATION_GRACE
        async with translated(), self.pool.acquire() as conn:
            if not await store.rotate(conn, webhook_id, member_id, sealed, now, until):
                raise _not_found(webhook_id)
        return {
            "id": webhook_id,
            "secret": rules.format_secret(secret),
            "rotated_at": iso(now),
            "previous_secret_until": iso(until),
        }

    async def enable(self, member_id: str, webhook_id: str) -> dict[str, Any]:
        """Resume a disabled endpoint with the event it failed on."""
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            if not await store.enable(conn, webhook_id, member_id, self.clock()):
                if await store.get(conn, webhook_id, member_id) is None:
                    raise _not_found(webhook_id)
                raise Conflict("the webhook is not disabled", code="webhook.not_disabled")
            row = await store.get(conn, webhook_id, member_id)
        assert row is not None
        return _view(row)

    async def deliveries(
        self, member_id: str, webhook_id: str, after: str, limit: int
    ) -> dict[str, Any]:
        """A page of the endpoint's delivery log, oldest first (kept 30 days)."""
        start = rules.parse_log_cursor(after)
        rules.check_page_limit(limit)
        async with translated(), self.pool.acquire() as conn:
            if await store.get(conn, webhook_id, member_id) is None:
                raise _not_found(webhook_id)
            rows = await store.log_page(conn, webhook_id, start, limit)
        page = [
            {
                "id": str(r.id),
                "event_cursor": r.event_cursor,
                "attempt": r.attempt,
                "at": iso(r.at),
                "status_code": r.status_code,
                "error": r.error,
                "outcome": r.outcome,
                "next_attempt_at": iso(r.next_attempt_at),
                "duration_ms": r.duration_ms,
            }
            for r in rows
        ]
        return {"deliveries": page, "next_cursor": page[-1]["id"] if page else after}

    # -- deliveries ----------------------------------------------------------------------

    async def deliver_due(self) -> int:
        """One pass: claim the due endpoints and serve them; return the attempts made."""
        return await self.delivery.deliver_due()

    async def prune(self, as_of: datetime) -> int:
        """Drop delivery-log entries older than the log's retention."""
        return await self.delivery.prune(as_of)

    async def run(self, stop: asyncio.Event, *, interval: float = 1.0) -> None:
        """Deliver until ``stop`` is set: at once while there is work, else every ``interval``."""
        await self.delivery.run(stop, interval=interval)
