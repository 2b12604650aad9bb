"""``refund-registry worker``: the background duties."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import Any, TextIO

from refund_registry.cli.common import (
    CommandError,
    backing_servers,
    load_settings,
    log,
    migrate_schema,
)
from refund_registry.config import Settings


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    worker = sub.add_parser("worker", parents=[common], help="retention expiry and deadlines")
    worker.add_argument("--once", action="store_true", help="one pass, then exit")
    worker.add_argument("--as-of", help="pretend it is this time (ISO 8601), for drills")
    worker.add_argument("--interval", type=float, default=30.0, help="seconds between passes")
    worker.set_defaults(handler=cmd_worker)


def cmd_worker(args: argparse.Namespace, out: TextIO) -> int:
    """Background duties: retention expiry (and, as they land, deadlines and checkpoints).

    Safe to run in several processes: every duty claims its rows with SKIP LOCKED.
    """
    from refund_registry.runtime import Runtime

    settings = load_settings(args)
    as_of = _parse_time(args.as_of) if args.as_of else None

    async def run(live: Settings) -> dict[str, Any]:
        from refund_registry.services.audit import expire_subject_links
        from refund_registry.services.sequencer import run_sequencer, sequence_once

        rt = await Runtime.start(live)
        log_key = rt.parts.log_key
        stop = asyncio.Event()
        sequencer = (
            None if args.once else asyncio.create_task(run_sequencer(rt.pool, log_key, stop=stop))
        )
        try:
            while True:
                moment = as_of or datetime.now(UTC)
                done: dict[str, Any] = {
                    "as_of": moment.isoformat(),
                    # Expiry first: an appeal whose report expired closes in this pass.
                    "expired": await rt.ledger.expire(moment),
                    "appeal_deadlines": await rt.parts.appeals.run_deadlines(moment),
                    "subject_links_expired": await expire_subject_links(rt.pool, moment),
                }
                if args.once:
                    await rt.access_log.close()  # entries of this pass are in the log
                    done["sequenced"] = await sequence_once(rt.pool, log_key, force_checkpoint=True)
                    return done
                log.info("worker pass", extra=done)
                await asyncio.sleep(args.interval)
        finally:
            stop.set()
            if sequencer is not None:
                await sequencer
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
        raise CommandError(f"--as-of {text!r} is not an ISO 8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
