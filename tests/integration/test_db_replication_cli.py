"""``refund-registry db``: a synchronous primary and standby made, promoted and stopped from
the command line, as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg

from tests.support.replication import free_port

CLI = [sys.executable, "-m", "refund_registry"]


def _db(*args: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(extra)
    done = subprocess.run(
        [*CLI, "db", *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, str] = json.loads(done.stdout)
    return answer


async def _ask(url: str, query: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


def test_primary_standby_promote_stop() -> None:
    root = Path(tempfile.mkdtemp(prefix="rrdb-", dir="/tmp"))
    primary, standby = root / "a", root / "b"
    p1, p2 = free_port(), free_port()
    try:
        shown = _db("primary", "--data-dir", str(primary), "--port", str(p1), "--standby", "s1")
        password = (primary / "embedded" / "db-owner.password").read_text().strip()
        assert password not in shown["primary"]
        url = f"postgresql://postgres:{password}@127.0.0.1:{p1}/postgres"
        # The password from the environment, as docs/deployment.md shows it.
        source = f"postgresql://postgres@127.0.0.1:{p1}/postgres"
        _db(
            "standby",
            "--from",
            source,
            "--data-dir",
            str(standby),
            "--port",
            str(p2),
            "--name",
            "s1",
            PGPASSWORD=password,
        )
        sync = asyncio.run(
            _ask(url, "SELECT sync_state FROM pg_stat_replication WHERE application_name = 's1'")
        )
        assert sync == "sync"  # every commit now waits for the standby
        copy = url.replace(str(p1), str(p2))
        assert asyncio.run(_ask(copy, "SELECT pg_is_in_recovery()")) is True
        _db("stop", "--data-dir", str(primary))
        assert _db("promote", "--data-dir", str(standby)) == {"promote": str(standby)}
        assert asyncio.run(_ask(copy, "SELECT pg_is_in_recovery()")) is False
        # The promoted server waits for no standby: a commit returns.
        assert asyncio.run(_ask(copy, "SELECT txid_current()")) is not None
        _db("stop", "--data-dir", str(standby))
    finally:
        for folder in (primary, standby):
            subprocess.run(
                [*CLI, "db", "stop", "--data-dir", str(folder)],
                check=False,
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


def test_a_server_command_needs_its_folder(tmp_path: Path) -> None:
    missing = subprocess.run(
        [*CLI, "db", "promote"], capture_output=True, text=True, timeout=60, check=False
    )
    assert missing.returncode == 2
    assert "--data-dir DIR is required" in missing.stderr
    empty = subprocess.run(
        [*CLI, "db", "promote", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert empty.returncode == 2
    assert "holds no PostgreSQL cluster" in empty.stderr
