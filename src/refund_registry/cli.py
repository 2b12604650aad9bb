"""The ``refund-registry`` command line.

Every command takes ``--data-dir``. When ``DATABASE_URL`` / ``REDIS_URL`` are
not set, the command attaches to the embedded PostgreSQL and Valkey of that
folder, starting them if needed, and stops them on exit unless another
process still uses them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from refund_registry import logs, serving
from refund_registry.config import ConfigError, Settings
from refund_registry.embedded import EmbeddedError, EmbeddedServers
from refund_registry.errors import RegistryError

log = logging.getLogger("refund_registry.cli")


class CommandError(Exception):
    """A failure to report on one line and exit non-zero."""


def load_settings(args: argparse.Namespace) -> Settings:
    """The settings ``main`` read from the environment, with this command's flags."""
    settings: Settings = args.settings
    changes: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        changes["data_dir"] = Path(args.data_dir).expanduser()
    for name in ("host", "port"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    return settings.with_overrides(**changes) if changes else settings


@contextlib.contextmanager
def backing_servers(settings: Settings) -> Iterator[Settings]:
    """Yield settings whose URLs point at real servers, embedded ones if need be."""
    if not settings.embedded:
        yield settings
        return
    servers = EmbeddedServers(
        settings.data_dir, postgres=not settings.database_url, valkey=not settings.redis_url
    )
    try:
        endpoints = servers.attach()
    except EmbeddedError as exc:
        raise CommandError(str(exc)) from exc
    try:
        yield settings.with_overrides(
            database_url=settings.database_url or endpoints.database_url,
            redis_url=settings.redis_url or endpoints.redis_url,
        )
    finally:
        servers.release()


@contextlib.contextmanager
def exclusive(data_dir: Path, what: str) -> Iterator[None]:
    """Refuse a second ``serve`` (or worker of the same kind) on one data folder."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"{what}.lock"
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise CommandError(
                f"another `refund-registry {what}` (pid {holder}) is already using {data_dir}; "
                "stop it first or pass a different --data-dir"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


async def _with_pool(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    from refund_registry.storage.db import create_pool

    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        return await work(pool)
    finally:
        await pool.close()


def _migrate(settings: Settings) -> list[str]:
    from refund_registry.storage import migrate

    try:
        return asyncio.run(migrate.apply(settings.database_url))
    except migrate.MigrationError as exc:
        raise CommandError(f"migrations refused: {exc}") from exc


# -- commands ----------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry import keyfiles
    from refund_registry.http.app import create_app

    settings = load_settings(args)
    with exclusive(settings.data_dir, "serve"), backing_servers(settings) as live:
        applied = _migrate(live)
        if applied:
            log.info("schema migrated", extra={"applied": applied})
        generate = live.environment != "production"
        keyfiles.ensure_ed25519(live.key_path("log"), generate=generate)
        keyfiles.load_keyring_keys(live.key_path("registry"), generate=generate)
        log.info(
            "serving",
            extra={"url": f"http://{live.host}:{live.port}", "data_dir": str(live.data_dir)},
        )
        child = None if live.keyservice_url else _start_keyservice(live)
        try:
            serving.serve(create_app(live), live.host, live.port)
        finally:
            if child is not None:
                child.terminate()
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
    log.info("stopped")
    return 0


def _start_keyservice(live: Settings) -> subprocess.Popen[bytes]:
    """Zero-setup mode: the key service runs as a child process with its own key file.

    It gets the resolved URLs, so it uses the parent's embedded servers; the
    API process never opens the key service's key (SPEC section 3).
    """
    env = {
        **os.environ,
        "DATABASE_URL": live.database_url,
        "REDIS_URL": live.redis_url,
        "REGISTRY_HOST": live.host,
        "REGISTRY_KEYSERVICE_PORT": str(live.keyservice_port),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "refund_registry", "keyservice", "--data-dir", str(live.data_dir)],
        env=env,
        preexec_fn=_die_with_parent,  # a one-line prctl before exec
    )


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if ``serve`` dies without stopping it (kill -9)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def cmd_keyservice(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.keyservice.app import run_keyservice

    settings = load_settings(args)
    if args.keyservice_port is not None:
        settings = settings.with_overrides(keyservice_port=args.keyservice_port)
    with exclusive(settings.data_dir, "keyservice"), backing_servers(settings) as live:
        _migrate(live)
        try:
            run_keyservice(live)
        except ConfigError as exc:
            raise CommandError("; ".join(exc.problems)) from None
    return 0


def cmd_rotate_registry_key(args: argparse.Namespace, out: TextIO) -> int:
    """Append a key to the registry keyring and re-wrap every subject key (no record lost).

    Stop the API processes and workers first: they hold the keyring in memory.
    """
    from refund_registry.services import rekey

    settings = load_settings(args)
    with backing_servers(settings) as live:
        _migrate(live)
        try:
            rotation = rekey.begin(live.key_path("registry"))
        except (OSError, ValueError, RuntimeError) as exc:
            raise CommandError(f"rotation refused: {exc}") from exc
        try:
            counts = asyncio.run(rekey.rewrap(live.database_url, rotation))
        except BaseException:
            rekey.finish(rotation, committed=False)
            raise
        rekey.finish(rotation, committed=True)
    out.write(json.dumps(counts) + "\n")
    return 0


def cmd_migrate(args: argparse.Namespace, out: TextIO) -> int:
    settings = load_settings(args)
    with backing_servers(settings) as live:
        applied = _migrate(live)
    out.write(json.dumps({"applied": applied}) + "\n")
    return 0


def cmd_principals(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.services import principals

    settings = load_settings(args)
    pem = Path(args.public_key).read_bytes() if getattr(args, "public_key", None) else b""

    async def work(pool: Any) -> Any:
        if args.action == "add":
            return await principals.add_principal(pool, name=args.name, role=args.role, pem=pem)
        if args.action == "add-key":
            return await principals.add_key(pool, principal_id=args.id, pem=pem)
        if args.action == "list":
            return await principals.list_all(pool)
        if args.action == "revoke":
            return await principals.revoke(pool, principal_id=args.id, kid=args.kid)
        if args.action == "suspend":
            return await principals.set_status(pool, args.id, "suspended")
        if args.action == "reactivate":
            return await principals.set_status(pool, args.id, "active")
        raise CommandError(f"unknown action {args.action}")

    with backing_servers(settings) as live:
        _migrate(live)
        try:
            result = asyncio.run(_with_pool(live, work))
        except OSError as exc:
            raise CommandError(str(exc)) from exc
    out.write(json.dumps(result) + "\n")
    return 0


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
        _migrate(live)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refund-registry",
        description="Refund Registry: a shared ledger of confirmed refund fraud",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="data folder for zero-setup mode (default: per-user)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the API (zero-setup without URLs)")
    serve.add_argument("--port", type=int)
    serve.add_argument("--host")
    serve.set_defaults(handler=cmd_serve)

    migrate = sub.add_parser("migrate", parents=[common], help="apply pending schema migrations")
    migrate.set_defaults(handler=cmd_migrate)

    audit = sub.add_parser("audit", help="the tamper-evident access log")
    asub = audit.add_subparsers(dest="action", required=True)
    verify = asub.add_parser(
        "verify",
        parents=[common],
        help="verify the access log end to end (exit 0 only if it holds)",
    )
    from refund_registry import audit_verify

    audit_verify.add_arguments(verify)
    verify.set_defaults(handler=audit_verify.run)

    keys = sub.add_parser("keys", help="the registry's own keys")
    ksub = keys.add_subparsers(dest="action", required=True)
    rotate = ksub.add_parser(
        "rotate-registry",
        parents=[common],
        help="add a registry HMAC key and re-wrap every subject key (stop the API first)",
    )
    rotate.set_defaults(handler=cmd_rotate_registry_key)

    ks = sub.add_parser("keyservice", parents=[common], help="run the OPRF key service")
    ks.add_argument("--port", type=int, dest="keyservice_port")
    ks.add_argument("--host")
    ks.set_defaults(handler=cmd_keyservice)

    worker = sub.add_parser("worker", parents=[common], help="retention expiry and deadlines")
    worker.add_argument("--once", action="store_true", help="one pass, then exit")
    worker.add_argument("--as-of", help="pretend it is this time (ISO 8601), for drills")
    worker.add_argument("--interval", type=float, default=30.0, help="seconds between passes")
    worker.set_defaults(handler=cmd_worker)

    prin = sub.add_parser(
        "principals", help="members, adjudicators, auditors, admins and their keys"
    )
    psub = prin.add_subparsers(dest="action", required=True)
    add = psub.add_parser("add", parents=[common], help="register a principal and its public key")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=["member", "adjudicator", "auditor", "admin"])
    add.add_argument("--public-key", required=True, help="PEM file: Ed25519 or P-256 public key")
    add_key = psub.add_parser("add-key", parents=[common], help="add a second key (rotation)")
    add_key.add_argument("--id", required=True)
    add_key.add_argument("--public-key", required=True)
    psub.add_parser("list", parents=[common], help="list principals and active key ids")
    revoke = psub.add_parser("revoke", parents=[common], help="revoke a principal or one key")
    target = revoke.add_mutually_exclusive_group(required=True)
    target.add_argument("--id", help="principal id: revokes the principal and all its keys")
    target.add_argument("--kid", help="key id: revokes only that key (end of a rotation)")
    for action in ("suspend", "reactivate"):
        p = psub.add_parser(action, parents=[common], help=f"{action} a principal")
        p.add_argument("--id", required=True)
    for p in psub.choices.values():
        p.set_defaults(handler=cmd_principals)
    prin.set_defaults(handler=cmd_principals)
    return parser


def main(argv: list[str] | None = None) -> None:
    # platformdirs warns about XDG_RUNTIME_DIR on servers; the fallback it picks is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        for line in exc.problems:
            sys.stderr.write(f"refund-registry: bad setting: {line}\n")
        raise SystemExit(2) from None
    args.settings = settings
    logs.configure(settings.log_level)
    try:
        code = args.handler(args, sys.stdout)
    except CommandError as exc:
        sys.stderr.write(f"refund-registry: {exc}\n")
        raise SystemExit(1) from None
    except RegistryError as exc:
        sys.stderr.write(f"refund-registry: {exc.code}: {exc.detail}\n")
        raise SystemExit(1) from None
    raise SystemExit(code)
