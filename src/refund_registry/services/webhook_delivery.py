"""Webhook deliveries: each member's feed, sent to its endpoints.

Deliveries (:meth:`WebhookDelivery.deliver_due`, run by the worker, or by
``serve`` in zero-setup mode) work endpoint by endpoint:

1. **Claim** due endpoints that have an event waiting, with ``FOR UPDATE
   SKIP LOCKED``, and lease them for longer than a request may take, in one
   short transaction. Several workers share the endpoints; none sends an
   attempt another one is sending.
2. **Send** the endpoint's next event, outside any transaction, signed as a
   Standard Webhooks message with the endpoint's secret (and, during the 24 h
   after a rotation, the previous one as well).
3. **Record** the attempt in the delivery log and move the endpoint on
   (delivered), schedule the next attempt (``domain.webhooks.after_attempt``),
   or disable it and put ``webhook.disabled`` on the member's feed; each a
   compare-and-set on the lease, so a worker that lost its lease, or whose
   endpoint was deleted meanwhile, changes nothing.

At-least-once: the endpoint's position moves only after a 2xx, so a crash
between the answer and the commit sends that event again, with the same
``webhook-id``. In order: an endpoint sends nothing after an event that is
failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol

import asyncpg
import msgspec
from standardwebhooks import Webhook

from refund_registry.domain import feed as feed_rules
from refund_registry.domain import webhooks as rules
from refund_registry.errors import RegistryError
from refund_registry.i18n import gettext
from refund_registry.storage import events
from refund_registry.storage import webhooks as store
from refund_registry.storage.db import translated

log = logging.getLogger("refund_registry.webhooks")

LOG_RETENTION = timedelta(days=30)
"""How long the delivery log keeps an attempt."""


class Sent(Protocol):
    """What one request came to (``delivery.webhooks.Answer``)."""

    @property
    def status(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def retry_after(self) -> str | None: ...
    @property
    def duration_ms(self) -> int: ...


class Sender(Protocol):
    """The outbound HTTP adapter (``delivery.webhooks.WebhookSender``)."""

    timeout: float

    async def check(self, url: str, *, require_https: bool) -> object:
        """Refuse a URL whose form or addresses break the rules (422)."""

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Sent:
        """Send once; report the status or the class of error, never raise."""


@dataclass
class DeliveryConfig:
    """How the worker paces deliveries."""

    endpoints_per_pass: int = 16
    """Endpoints claimed (and served concurrently) per pass."""
    events_per_claim: int = 100
    """Events one endpoint sends in a row before it goes back to the queue."""
    lease_margin: timedelta = timedelta(seconds=60)
    """Added to the request timeout: how long a claim outlives a crashed worker."""


class WebhookDelivery:
    """Claims due endpoints, sends their waiting events, records each attempt.

    ``key`` opens the endpoints' sealed secrets; ``language`` is that of each
    delivery's ``description`` (the registry's default).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        key: bytes,
        sender: Sender,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
        config: DeliveryConfig | None = None,
        language: str = "zh-CN",
    ) -> None:
        self.pool = pool
        self.language = language
        self._key = key
        self.sender = sender
        self.clock = clock
        self.jitter = jitter
        self.config = config or DeliveryConfig()

    def __repr__(self) -> str:  # the key stays out of any log line
        return "WebhookDelivery()"

    def _lease(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.sender.timeout) + self.config.lease_margin

    async def deliver_due(self) -> int:
        """One pass: claim the due endpoints and serve them; return the attempts made."""
        now = self.clock()
        token = secrets.token_hex(16)
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            claimed = await store.claim_due(
                conn, now, self.config.endpoints_per_pass, token, self._lease(now)
            )
        if not claimed:
            return 0
        done = await asyncio.gather(*(self._serve(c, token) for c in claimed))
        return sum(done)

    async def _serve(self, endpoint: store.Claimed, token: str) -> int:
        """Send the endpoint's waiting events in order until one fails or the budget ends."""
        position = (int(endpoint.cursor_txid), endpoint.cursor_id)
        attempt = endpoint.attempt + 1
        made = 0
        try:
            while made < self.config.events_per_claim:
                async with translated(), self.pool.acquire() as conn:
                    waiting = await store.pending_events(
                        conn, endpoint.member_id, position, self.config.events_per_claim - made
                    )
                if not waiting:
                    break
                for event in waiting:
                    made += 1
                    if not await self._attempt(endpoint, token, event, attempt):
                        return made
                    position, attempt = (int(event.txid), event.id), 1
        except RegistryError as exc:
            log.warning(
                "webhook delivery interrupted",
                extra={"webhook_id": endpoint.id, "code": exc.code},
            )
        finally:
            with contextlib.suppress(RegistryError):
                async with translated(), self.pool.acquire() as conn:
                    await store.release(conn, endpoint.id, token)
        return made

    async def _attempt(
        self, endpoint: store.Claimed, token: str, event: events.FeedEvent, attempt: int
    ) -> bool:
        """Send one event once and record the outcome; True when the endpoint may go on."""
        now = self.clock()
        async with translated(), self.pool.acquire() as conn:
            sealed = await store.secrets_of(conn, endpoint.id, token)
        if sealed is None:
            return False  # deleted, or the lease went to another worker
        try:
            keys = rules.signing_secrets(
                rules.unseal(self._key, endpoint.id, sealed.secret_sealed),
                None
                if sealed.previous_sealed is None
                else rules.unseal(self._key, endpoint.id, sealed.previous_sealed),
                sealed.previous_until,
                now,
            )
        except ValueError:
            log.error("a webhook secret does not open with the webhook key",
                      extra={"webhook_id": endpoint.id})  # fmt: skip
            return False
        cursor = feed_rules.cursor(event.txid, event.id)
        item = rules.feed_item(
            cursor, event.type, event.at, event.report_id, event.appeal_id, event.data
        )
        item["description"] = feed_rules.describe(item, partial(gettext, self.language))
        body = msgspec.json.encode(rules.payload(item))
        stamp = now.replace(microsecond=0)
        message_id = rules.message_id(cursor)
        text = body.decode()
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(stamp.timestamp())),
            "webhook-signature": " ".join(
                Webhook(key).sign(message_id, stamp, text) for key in keys
            ),
            "content-language": self.language,
        }
        sent = await self.sender.post(endpoint.url, body, headers)
        finished = self.clock()
        outcome = rules.after_attempt(
            attempt,
            sent.status,
            finished,
            jitter=self.jitter(),
            retry_after=rules.parse_retry_after(sent.retry_after),
        )
        return await self._record(endpoint, token, event, attempt, now, finished, sent, outcome)

    async def _record(
        self,
        endpoint: store.Claimed,
        token: str,
        event: events.FeedEvent,
        attempt: int,
        at: datetime,
        finished: datetime,
        sent: Sent,
        outcome: rules.Outcome,
    ) -> bool:
        """Log the attempt and move the endpoint on, in one transaction; True when it
        was delivered and the lease is still ours."""
        cursor = feed_rules.cursor(event.txid, event.id)
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            if isinstance(outcome, rules.Delivered):
                state, next_at = "delivered", None
                moved = await store.mark_delivered(
                    conn, endpoint.id, token, (int(event.txid), event.id), finished,
                    self._lease(finished),
                )  # fmt: skip
            elif isinstance(outcome, rules.Retry):
                state, next_at = "retry", outcome.at
                moved = await store.retry_later(
                    conn, endpoint.id, token, outcome.attempt, outcome.at
                )
            else:
                state, next_at = "disabled", None
                moved = await store.disable(
                    conn, endpoint.id, token, outcome.attempt, finished, outcome.reason
                )
                if moved:
                    await events.append(conn, _disabled_event(endpoint, outcome, cursor, finished))
            if moved:
                await store.log_attempt(
                    conn,
                    store.LogEntry(
                        webhook_id=endpoint.id,
                        event_cursor=cursor,
                        attempt=attempt,
                        at=at,
                        status_code=sent.status,
                        error=sent.error,
                        outcome=state,
                        next_attempt_at=next_at,
                        duration_ms=sent.duration_ms,
                    ),
                )
        if moved and isinstance(outcome, rules.Disable):
            log.warning(
                "webhook disabled", extra={"webhook_id": endpoint.id, "reason": outcome.reason}
            )
        return moved and isinstance(outcome, rules.Delivered)

    async def prune(self, as_of: datetime) -> int:
        """Drop delivery-log entries older than :data:`LOG_RETENTION`."""
        async with translated(), self.pool.acquire() as conn:
            return await store.prune_log(conn, as_of - LOG_RETENTION)

    async def run(self, stop: asyncio.Event, *, interval: float = 1.0) -> None:
        """Deliver until ``stop`` is set: at once while there is work, else every ``interval``."""
        while not stop.is_set():
            made = 0
            try:
                made = await self.deliver_due()
            except RegistryError as exc:
                log.warning("webhook deliveries paused", extra={"code": exc.code})
            except Exception:
                log.exception("webhook delivery pass failed")
            if made == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)


def _disabled_event(
    endpoint: store.Claimed, outcome: rules.Disable, cursor: str, at: datetime
) -> events.Event:
    """``webhook.disabled`` on the member's feed: its other endpoints, and its
    feed readers, learn that this one stopped, and at which event."""
    return events.Event(
        at,
        rules.DISABLED_EVENT,
        endpoint.member_id,
        None,
        None,
        {
            "webhook_id": endpoint.id,
            "reason": outcome.reason,
            "attempts": outcome.attempt,
            "event_cursor": cursor,
        },
    )


__all__ = ["LOG_RETENTION", "DeliveryConfig", "Sender", "Sent", "WebhookDelivery"]
