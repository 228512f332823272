"""The daemon's decision at one control tick, free of threads and clocks (so it is tested tick by tick):
observation in, a safe action or a hold (with the reason) out.

At each tick it adopts the newest plan the worker has made, asks for the next one every `replan_every` ticks
(the old plan keeps executing meanwhile), holds when there is no plan yet, the plan is stale or the frame was
lost, and otherwise steps through the plan as the Agent does: one IDM chunk per planned frame, past the last
frame the last frame again. Every action passes the `ActionGuard`.
"""

from collections import deque
from dataclasses import dataclass

import numpy as np

from inverse_dynamics.model import InverseDynamics
from robot_io.action_guard import ActionGuard
from robot_io.types import Observation
from video_planner.daemon.plan_worker import PlanWorker
from video_planner.daemon.settings import DaemonSettings
from video_planner.model.protocols import VideoPlan

LOST_FRAME, NO_PLAN, STALE_PLAN = "lost frame", "no plan yet", "stale plan"


@dataclass(frozen=True)
class Decision:
    action: np.ndarray | None  # (A,) float64 to send; None: hold
    reasons: tuple[str, ...] = ()  # why it holds, or what the guard changed
    target_frame: np.ndarray | None = None  # (H, W, 3) the planned frame the action heads for


class Controller:
    def __init__(self, worker: PlanWorker, idm: InverseDynamics, guard: ActionGuard, settings: DaemonSettings):
        self.worker, self.idm, self.guard, self.settings = worker, idm, guard, settings
        self.start("", 0)

    def start(self, instruction: str, episode: int) -> None:
        """A new episode: no plan, nothing requested, an empty chunk."""
        self.instruction, self.episode = instruction, episode
        self.worker.forget()
        self.ticks = 0
        self.plan: VideoPlan | None = None
        self.plan_number = 0
        self.plan_asked_at = 0  # tick at which the followed plan's request went out
        self.requests: dict[int, int] = {}  # request number -> tick it went out
        self.last_request_tick: int | None = None
        self.target = 0
        self.chunk: deque[np.ndarray] = deque()
        self.previous_action: np.ndarray | None = None

    @property
    def plan_age(self) -> int | None:
        """Ticks since the followed plan's request went out; None without a plan."""
        return None if self.plan is None else self.ticks - self.plan_asked_at

    def tick(self, observation: Observation | None) -> Decision:
        self.ticks += 1
        if observation is None:
            return Decision(None, (LOST_FRAME,))
        self._adopt_newest_plan()
        self._ask_when_due(observation)
        if self.plan is None:
            return Decision(None, (NO_PLAN,))
        if self.plan_age > self.settings.stale_after:
            self.chunk.clear()
            return Decision(None, (STALE_PLAN,))
        frame = self.plan.frames[min(self.target, len(self.plan.frames) - 1)]
        if not self.chunk:
            self.chunk.extend(self.idm.actions(observation.image, observation.state, frame))  # (k, A)
            self.target += 1
        reference = observation.state if self.settings.change_reference == "state" else self.previous_action
        guarded = self.guard.check(self.chunk.popleft(), reference)
        if guarded.action is not None:
            self.previous_action = guarded.action
        return Decision(guarded.action, guarded.reasons, frame)

    def _adopt_newest_plan(self) -> None:
        made = self.worker.latest()
        if made is not None and made.number > self.plan_number:
            self.plan, self.plan_number = made.plan, made.number
            self.plan_asked_at = self.requests[made.number]
            self.target = 0
            self.chunk.clear()

    def _ask_when_due(self, observation: Observation) -> None:
        never_asked = self.last_request_tick is None
        due = not never_asked and self.ticks - self.last_request_tick >= self.settings.replan_every
        if never_asked or (due and not self.worker.busy()):
            seed = (self.settings.seed * 1000 + self.episode) * 1000 + len(self.requests)
            number = self.worker.request(observation.image, self.instruction, seed)
            self.requests[number] = self.ticks
            self.last_request_tick = self.ticks
