"""Background live traffic: new messages, replies, edits and remote deletions at a set rate."""

from __future__ import annotations

import random
import threading

from sandbox.generator import NEW
from sandbox.world import World


class LiveTraffic:
    def __init__(self, world: World, rate: float, seed: int) -> None:
        self.world = world
        self.rate = rate
        self._rng = random.Random(seed * 31 + 1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-live", daemon=True)
        self.events = 0

    def start(self) -> None:
        if self.rate > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        world = self.world
        while not self._stop.wait(1.0 / self.rate):
            readable = world.source_ids
            source_id = self._rng.choice(readable)
            roll = self._rng.random()
            with world.lock:
                n = world.row_count
                recent = self._rng.randrange(max(0, n - 200), n) if n else None
            if roll < 0.45 or recent is None:
                world.add_content(source_id)
            elif roll < 0.75:
                target = recent
                with world.lock:
                    target_is_new = int(world.status[target]) == NEW
                if target_is_new:
                    world.reply(world.content_id(target))
                else:
                    world.add_content(source_id)
            elif roll < 0.88:
                world.edit_content(world.content_id(recent))
            elif roll < 0.95:
                world.delete_remotely(world.content_id(recent))
            else:
                world.initiate(source_id)
            self.events += 1
