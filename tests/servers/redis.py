"""Debian's ``redis-server`` on loopback: one node, or a 3-node Redis Cluster."""

from __future__ import annotations

import contextlib
import functools
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from ._process import free_port, stop_process, wait_until

__all__ = [
    "INSTALL_REDIS",
    "RedisCluster",
    "RedisServer",
    "redis_client",
    "running_cluster",
    "running_redis",
]

INSTALL_REDIS = "apt-get install -y --no-install-recommends redis-server"


def redis_client(port: int) -> redis.Redis:
    """A plain synchronous client of one node (for probing and flushing, not under test)."""
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, socket_connect_timeout=5)


def _answers(port: int) -> bool:
    try:
        with redis_client(port) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


@dataclass
class RedisServer:
    """One ``redis-server`` process with no persistence; ``restart()`` keeps its port."""

    directory: Path
    port: int = 0
    cluster: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            pytest.skip(f"redis-server is not installed ({INSTALL_REDIS})")
        if not self.port:
            self.port = free_port(also_free=10000 if self.cluster else None)
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.directory), "--daemonize", "no"]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            args += ["--cluster-node-timeout", "2000"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: _answers(self.port), f"redis-server answering on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def kill(self) -> None:
        """Die at once (SIGKILL), as a crashed server would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def flush(self) -> None:
        with redis_client(self.port) as client:
            client.flushall()


@dataclass
class RedisCluster:
    """Three cluster-enabled nodes joined by ``redis-cli --cluster create`` (no replicas)."""

    nodes: list[RedisServer]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def flush(self) -> None:
        for node in self.nodes:
            node.flush()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _cluster_ok(port: int) -> bool:
    try:
        with redis_client(port) as client:
            state = client.cluster("INFO")  # parsed into a dict by redis-py
            return bool(state.get("cluster_state") == "ok")
    except redis.RedisError:
        return False


@contextlib.contextmanager
def running_redis(directory: Path) -> Iterator[RedisServer]:
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def running_cluster(directory: Path) -> Iterator[RedisCluster]:
    nodes = []
    try:
        for index in range(3):
            node_dir = directory / f"node{index}"
            node_dir.mkdir()
            node = RedisServer(node_dir, cluster=True)
            nodes.append(node)
            node.start()
        cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{n.port}" for n in nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
        )
        for node in nodes:
            wait_until(functools.partial(_cluster_ok, node.port), "the Redis Cluster forming")
        yield RedisCluster(nodes)
    finally:
        for node in nodes:
            node.stop()
