"""Watching a drill: every sentinel's event stream, and shell access to the hosts for faults.

Faults go over SSH with ordinary tools (systemctl, kill, nft) through testinfra and the same
inventory, so the drill that runs on the lab runs on real hosts too.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import redis

from redisops.drills.targets import DrillTargets, Node


class EventObserver:
    """Subscribes to every sentinel (``PSUBSCRIBE *``) and keeps what each one says, with time.
    A sentinel that goes away (a drill may stop it) is re-subscribed when it is back."""

    def __init__(self, targets: DrillTargets, clock: Callable[[], float]):
        self.targets = targets
        self.clock = clock
        self.events: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._watch, args=(n,), daemon=True) for n in targets.sentinels
        ]
        self._ready = threading.Barrier(len(self._threads) + 1, timeout=10)

    def _watch(self, node: Node) -> None:
        first = True
        while not self._stop.is_set():
            client = redis.Redis(
                host=node.address,
                port=node.port,
                socket_timeout=2,
                socket_connect_timeout=2,
                decode_responses=True,
                **self.targets.redis_kwargs(self.targets.sentinel_app),
            )
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.psubscribe("*")
                if first:
                    first = False
                    self._arrive()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.2)
                    if message and message.get("type") == "pmessage":
                        with self._lock:
                            self.events.append(
                                {
                                    "t": round(self.clock(), 3),
                                    "sentinel": f"{node.host}:{node.port}",
                                    "event": message["channel"],
                                    "detail": str(message["data"]),
                                }
                            )
            except (redis.RedisError, OSError):
                if first:
                    first = False
                    self._arrive()
                self._stop.wait(0.5)
            finally:
                client.close()

    def _arrive(self) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            self._ready.wait()

    def start(self) -> EventObserver:
        for thread in self._threads:
            thread.start()
        self._arrive()  # every sentinel subscribed (or found down) before the drill goes on
        return self

    def stop(self) -> list[dict]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        with self._lock:
            return sorted(self.events, key=lambda e: e["t"])

    def seen(self, event: str, since: float = 0.0) -> dict | None:
        with self._lock:
            return next((e for e in self.events if e["event"] == event and e["t"] >= since), None)


class Hosts:
    """Commands on the inventory's hosts over SSH (testinfra's Ansible backend)."""

    def __init__(self, inventory: str):
        self.inventory = inventory
        self._hosts: dict[str, object] = {}
        # testinfra's Ansible backend runs ansible-inventory by name: this Python's tools first.
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

    def run(self, host: str, command: str, check: bool = True) -> str:
        import testinfra

        if host not in self._hosts:
            self._hosts[host] = testinfra.get_host(f"ansible://{host}", ansible_inventory=self.inventory)
        out = self._hosts[host].run(command)
        if check and out.rc != 0:
            raise RuntimeError(f"{host}: '{command}' failed (exit {out.rc}): {out.stderr.strip()[:300]}")
        return out.stdout
