"""Planning in its own thread, so the control loop never waits for a plan: the loop asks (`request`) and later
picks up the newest plan (`latest`). A newer request replaces one not yet started; a planner that fails (a
planning server that went away) leaves the last plan in place and its error in `last_error`, and the loop
asks again.

    worker = PlanWorker(planner)          # any Planner: VideoPlanner, ComposedPlanner, PlannerClient
    worker.request(image, "open the door", seed=7)
    made = worker.latest()                # MadePlan(number, plan, made_at) or None
"""

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from video_planner.model.protocols import Planner, VideoPlan

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MadePlan:
    number: int  # the request it answers (requests are numbered from 1)
    plan: VideoPlan
    made_at: float  # time.monotonic() when it was ready


class PlanWorker:
    def __init__(self, planner: Planner):
        self.planner = planner
        self.last_error: str | None = None
        self._lock = threading.Condition()
        self._pending: tuple[int, np.ndarray, str, int] | None = None
        self._latest: MadePlan | None = None
        self._requests = 0
        self._floor = 0  # plans answering requests up to this number are stale (`forget`)
        self._planning = False
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="planner", daemon=True)
        self._thread.start()

    def request(self, image: np.ndarray, instruction: str, seed: int) -> int:
        """Asks for a plan from `image`; returns the request's number. Never blocks."""
        with self._lock:
            self._requests += 1
            self._pending = (self._requests, image, instruction, seed)
            self._lock.notify()
            return self._requests

    def latest(self) -> MadePlan | None:
        with self._lock:
            return self._latest

    def busy(self) -> bool:
        """Whether a request is waiting or being planned."""
        with self._lock:
            return self._pending is not None or self._planning

    def forget(self) -> None:
        """Drops the latest plan and any waiting request (a new episode starts from nothing)."""
        with self._lock:
            self._latest, self._pending, self._floor = None, None, self._requests

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._thread.join(timeout=60)

    def _serve(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                (number, image, instruction, seed), self._pending = self._pending, None
                self._planning = True
            try:
                plan = self.planner.plan(image, instruction, seed=seed)
            except Exception as err:  # any planner failure: the loop holds and asks again; the reason is reported
                logger.warning("planning failed: %s", err, exc_info=True)
                with self._lock:
                    self.last_error, self._planning = f"{type(err).__name__}: {err}", False
                continue
            with self._lock:
                if number > self._floor and (self._latest is None or number > self._latest.number):
                    self._latest = MadePlan(number, plan, time.monotonic())
                self.last_error, self._planning = None, False
