"""Plans for episodes that run side by side in threads, one planner call for many of them: each episode's
`plan()` waits until every running episode has asked (or `window_s` has passed since the first did), and one
`plan_batch` answers them all. Episodes replan at the same step counts, so in a parallel evaluation their
requests arrive together and the planner runs at the batch size of the episodes in flight.

    gathering = GatheringPlanner(planner)        # a BatchPlanner: VideoPlanner or ComposedPlanner
    with gathering.episode():                    # in each episode's thread
        agent = Agent(gathering, idm, rule)      # its plan() calls are gathered with the other episodes'
"""

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from video_planner.model.protocols import BatchPlanner, PlanRequest, VideoPlan


@dataclass
class _Job:
    request: PlanRequest
    done: threading.Event = field(default_factory=threading.Event)
    plan: VideoPlan | None = None
    error: BaseException | None = None


class GatheringPlanner:
    def __init__(self, planner: BatchPlanner, window_s: float = 0.1, max_batch: int = 64):
        self.planner, self.config = planner, planner.config
        self.window_s, self.max_batch = window_s, max_batch
        self._cond = threading.Condition()
        self._waiting: list[_Job] = []
        self._active = 0
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="gathering-planner", daemon=True)
        self._thread.start()

    @contextmanager
    def episode(self):
        """Counts the calling thread's episode as running, so the batch waits for its request too."""
        with self._cond:
            self._active += 1
        try:
            yield self
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def plan(self, image, instruction: str, *, seed=None, steps=None, guidance=None) -> VideoPlan:
        job = _Job(PlanRequest(image, instruction, seed=seed, steps=steps, guidance=guidance))
        with self._cond:
            self._waiting.append(job)
            self._cond.notify_all()
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.plan

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=60)

    def _next_batch(self) -> list[_Job] | None:
        with self._cond:
            while not self._waiting and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            deadline = time.monotonic() + self.window_s
            while len(self._waiting) < min(self._active, self.max_batch) and time.monotonic() < deadline:
                self._cond.wait(timeout=max(0.0, deadline - time.monotonic()))
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            return batch

    def _serve(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                answers = self.planner.plan_batch([job.request for job in batch])
                for job, plans in zip(batch, answers, strict=True):
                    job.plan = plans[0]
            except Exception as err:  # every episode of the call hears of it in its own thread
                for job in batch:
                    job.error = err
            for job in batch:
                job.done.set()
