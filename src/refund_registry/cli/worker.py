"""``refund-registry worker``: the background duties."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from refund_registry.cli.common import (
    UsageError,
    backing_servers,
    load_settings,
    log,
    migrate_schema,
    note,
)
from refund_registry.config import Settings

FUTURE_LEEWAY = timedelta(minutes=1)
"""An ``--as-of`` this close to now is treated as now (clocks differ a little)."""


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    worker = sub.add_parser(
        "worker",
        parents=[common],
        help="retention expiry, appeal deadlines, webhook deliveries, log sequencing",
        description="Run the background duties: retention expiry, appeal deadlines, "
        "subject-link expiry, webhook deliveries, access-log sequencing and checkpoints. "
        "Safe in several processes.",
    )
    worker.add_argument("--once", action="store_true", help="one pass, then exit")
    worker.add_argument(
        "--as-of",
        metavar="TIME",
        help="act as if it were TIME (ISO 8601; default: now); a future TIME needs --drill",
    )
    worker.add_argument(
        "--drill",
        action="store_true",
        help="allow a future --as-of: expires reports and closes appeals early, for good "
        "(for rehearsals on a copy of the data)",
    )
    worker.add_argument(
        "--interval", type=float, default=30.0, metavar="SECONDS", help="seconds between passes"
    )
    worker.set_defaults(handler=cmd_worker)


def cmd_worker(args: argparse.Namespace, out: TextIO) -> int:
    """Background duties: retention expiry, appeal deadlines, webhook deliveries, sequencing.

    Safe to run in several processes: every duty claims its rows with SKIP LOCKED
    (deliveries lease their endpoints; the sequencer holds an advisory lock).
    """
    from refund_registry.runtime import Runtime

    settings = load_settings(args)
    as_of = _parse_time(args.as_of) if args.as_of else None
    if as_of is not None:
        _check_future(as_of, drill=args.drill, now=datetime.now(UTC))

    async def run(live: Settings) -> dict[str, Any]:
        from refund_registry.services.duties import DELIVERY_INTERVAL, Duties
        from refund_registry.services.sequencer import run_sequencer, sequence_once
        from refund_registry.services.witnessing import run_collector

        rt = await Runtime.start(live)
        log_key = rt.parts.log_key
        duties = Duties(rt.pool, rt.ledger, rt.parts.appeals, rt.parts.webhooks)
        stop = asyncio.Event()
        background = (
            []
            if args.once
            else [
                asyncio.create_task(run_sequencer(rt.pool, log_key, stop=stop)),
                asyncio.create_task(run_collector(rt.pool, live.witnesses, stop=stop)),
                # Deliveries keep their own pace (a retry may be due in 5 s), in real time.
                asyncio.create_task(rt.parts.webhooks.run(stop, interval=DELIVERY_INTERVAL)),
            ]
        )
        try:
            while True:
                moment = as_of or datetime.now(UTC)
                done = await duties.run_pass(moment)
                if args.once:
                    done["webhook_attempts"] = await rt.parts.webhooks.deliver_due()
                    await rt.access_log.close()  # entries of this pass are in the log
                    done["sequenced"] = await sequence_once(rt.pool, log_key, force_checkpoint=True)
                    return done
                log.info("worker pass", extra=done)
                await asyncio.sleep(args.interval)
        finally:
            stop.set()
            for task in background:
                await task
            await rt.close()

    with backing_servers(settings) as live:
        migrate_schema(live)
        with contextlib.suppress(KeyboardInterrupt):
            result = asyncio.run(run(live))
            out.write(json.dumps(result) + "\n")
    return 0


def _parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--as-of {text!r} is not an ISO 8601 time (e.g. 2026-03-01T00:00:00Z)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _check_future(as_of: datetime, *, drill: bool, now: datetime) -> None:
    """A future ``--as-of`` changes the real ledger ahead of time: only with ``--drill``.

    With it, say first what the pass will do, since none of it can be undone.
    """
    ahead = as_of - now
    if ahead <= FUTURE_LEEWAY:
        return
    when = f"{as_of.isoformat()} ({_span(ahead)} ahead)"
    if not drill:
        raise UsageError(
            f"--as-of {when} is in the future; it would expire reports and close appeals "
            "early, for good. Add --drill to do it anyway (rehearsals on a copy of the data)"
        )
    note(
        f"drill as of {when}: reports whose retention ends by then expire (they stop "
        "counting and their subject keys are erased), open appeals due by then close "
        "(an expired deadline overturns the report), access-log subject links older than "
        "their retention by then are deleted; none of this can be undone"
    )


def _span(delta: timedelta) -> str:
    days = delta.days
    if days >= 2:
        return f"{days} days"
    hours = int(delta.total_seconds() // 3600)
    if hours >= 1:
        return f"{hours} h"
    return f"{int(delta.total_seconds() // 60)} min"
