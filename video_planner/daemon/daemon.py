"""`Daemon`: the long-lived process beside the arm. `start(instruction)` runs an episode in the control thread at
`fps`; plans are made in the worker's thread and handed over while the old plan executes; `stop()` ends the
episode, `estop()` ends it at once: once it returns, no action is sent until the next `start`.

    daemon = Daemon(RobotLink.of(robot), planner, idm, DaemonSettings(fps=10))
    daemon.start("open the door"); ...; daemon.status(); daemon.stop(); daemon.close()

Holds (nothing sent): no plan yet, a stale plan, a lost camera frame or state, a tick more than one period late,
or a guard refusal. A watchdog e-stops a loop that stops ticking (a robot call that hangs).
"""

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from foundation.errors import InputError
from inverse_dynamics.model import InverseDynamics
from robot_io.action_guard import ActionGuard, ActionLimits
from video_planner.control.agent import check_compatible, check_replan_every, check_robot_compatible
from video_planner.daemon.controller import Controller
from video_planner.daemon.plan_worker import PlanWorker
from video_planner.daemon.recorder import EpisodeRecorder
from video_planner.daemon.robot_link import RobotLink
from video_planner.daemon.settings import DaemonSettings
from video_planner.model.protocols import Planner

logger = logging.getLogger(__name__)
LATE_TICK = "late tick"


@dataclass
class DaemonStatus:
    state: str = "idle"  # idle | running | estopped
    instruction: str | None = None
    episodes: int = 0  # episodes started
    steps: int = 0  # ticks of the current (or last) episode
    actions: int = 0  # that passed every check in the current (or last) episode: sent, or logged in a dry run
    plan_age: int | None = None  # ticks since the followed plan was asked for
    holds: Counter = field(default_factory=Counter)  # reason -> ticks held, over the daemon's life
    last_error: str | None = None  # why the last episode failed
    estop_reason: str | None = None
    lateness_s: list[float] = field(default_factory=list)  # per tick of the last episode: start - deadline

    def as_dict(self) -> dict:
        return {
            "state": self.state,
            "instruction": self.instruction,
            "episodes": self.episodes,
            "steps": self.steps,
            "actions": self.actions,
            "plan_age": self.plan_age,
            "holds": dict(self.holds),
            "last_error": self.last_error,
            "estop_reason": self.estop_reason,
        }


class Daemon:
    def __init__(
        self,
        link: RobotLink,
        planner: Planner,
        idm: InverseDynamics,
        settings: DaemonSettings,
        recorder: EpisodeRecorder | None = None,
    ):
        """With a `recorder`, every episode that sent actions is committed to its dataset when it ends (dry runs
        send none, so record none)."""
        check_compatible(planner, idm)
        check_robot_compatible(idm, link.features(settings.fps, (idm.config.action_low, idm.config.action_high)))
        check_replan_every(settings.replan_every, idm)
        if settings.change_reference == "state" and link.state_names != link.action_names:
            raise InputError(
                "change_reference 'state' needs actions named as the state (an arm commanded in positions)"
            )
        self.link, self.settings, self.recorder = link, settings, recorder
        limits = ActionLimits.uniform(
            idm.config.action_dim, idm.config.action_low, idm.config.action_high, settings.max_step_change
        )
        self.guard = ActionGuard(limits)
        self.worker = PlanWorker(planner)
        self.controller = Controller(self.worker, idm, self.guard, settings)
        self.progress = DaemonStatus()
        self._estop = threading.Event()
        self._stop = threading.Event()
        self._send_lock = threading.Lock()  # estop() takes it: no send is under way when estop() returns
        self._episode: threading.Thread | None = None
        self._last_tick = time.monotonic()
        self._ticking = threading.Event()  # set while the control loop runs (not while an episode is recorded)
        self._closed = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="watchdog", daemon=True)
        self._watchdog.start()

    def start(self, instruction: str, scene_seed: int | None = None) -> None:
        """Runs an episode of `instruction`; a simulated robot first sets up the scene of `scene_seed`."""
        if not instruction.strip():
            raise InputError("empty instruction; say what to do, e.g. 'open the door'")
        if self._episode is not None and self._episode.is_alive():
            raise InputError("an episode is running; stop it first")
        if scene_seed is not None:
            self.link.reset_scene(scene_seed)
        self._estop.clear()
        self._stop.clear()
        status = self.progress
        status.state, status.instruction, status.steps, status.actions = "running", instruction, 0, 0
        status.estop_reason = None
        status.lateness_s = []
        self.controller.start(instruction, status.episodes)
        if self.recorder is not None:
            self.recorder.begin(instruction, self.settings.seed * 1000 + status.episodes)
        status.episodes += 1
        self._last_tick = time.monotonic()
        self._episode = threading.Thread(target=self._run, args=(instruction,), name="control", daemon=True)
        self._episode.start()

    def stop(self) -> None:
        """Ends the episode after the tick in progress."""
        self._stop.set()
        if self._episode is not None:
            self._episode.join(timeout=30)

    def estop(self, reason: str = "e-stop") -> None:
        """Stops sending now: when this returns no send is under way and none will start."""
        self._estop.set()
        with self._send_lock:
            self.progress.state, self.progress.estop_reason = "estopped", reason
        logger.warning("e-stop: %s", reason)

    def status(self) -> dict:
        self.progress.plan_age = self.controller.plan_age
        return self.progress.as_dict() | {"planner_error": self.worker.last_error, "guard": dict(self.guard.counts)}

    def close(self) -> None:
        self.estop("shutting down")
        self.stop()
        self._closed.set()
        self.worker.close()

    def _run(self, instruction: str) -> None:
        period, status = 1.0 / self.settings.fps, self.progress
        deadline = time.monotonic()
        self._ticking.set()
        try:
            while not (self._stop.is_set() or self._estop.is_set()) and status.steps < self.settings.max_episode_steps:
                started = time.monotonic()
                self._last_tick = started
                lateness = started - deadline
                status.lateness_s.append(lateness)
                observation = self.link.observe(instruction)
                decision = self.controller.tick(observation)
                status.steps += 1
                reasons = decision.reasons if decision.action is None else ()
                if decision.action is not None and lateness > period:
                    reasons = (LATE_TICK,)
                with self._send_lock:
                    if self._estop.is_set():
                        break
                    if not reasons and self.settings.dry_run:
                        logger.info("dry run, not sent: %s", decision.action.tolist())
                    elif not reasons:
                        self.link.send(decision.action)
                        if self.recorder is not None:
                            self.recorder.add(observation, decision.action, decision.target_frame)
                    status.actions += not reasons
                for reason in reasons:
                    status.holds[reason] += 1
                deadline += period
                if time.monotonic() - deadline > period:  # far behind: start the schedule afresh
                    deadline = time.monotonic()
                time.sleep(max(0.0, deadline - time.monotonic()))
        except Exception as err:  # a robot or model failure ends the episode; the daemon stays up to report it
            logger.exception("episode failed")
            status.last_error = f"{type(err).__name__}: {err}"
            self.estop("the episode failed")
        finally:
            self._ticking.clear()
        self._record(status)
        if status.state == "running":
            status.state = "idle"

    def _record(self, status: DaemonStatus) -> None:
        """Commits the episode, with how it ended; a failing disk is reported, not raised."""
        if self.recorder is None:
            return
        ended = status.estop_reason or ("step limit" if status.steps >= self.settings.max_episode_steps else "stop")
        summary = {"steps": status.steps, "actions": status.actions, "ended": ended}
        try:
            self.recorder.commit(summary)
        except OSError as err:
            logger.exception("recording the episode failed")
            status.last_error = f"recording failed: {err}"

    def _watch(self) -> None:
        period = 1.0 / self.settings.fps
        while not self._closed.wait(period):
            running = self._ticking.is_set() and not self._estop.is_set()
            silent = time.monotonic() - self._last_tick
            if running and silent > self.settings.watchdog_periods * period:
                self.estop(f"watchdog: the control loop was silent for {silent:.2f} s")
