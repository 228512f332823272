"""The Agent: a video planner and an inverse-dynamics model acting as one closed-loop policy.

Every `replan_every` env steps (or when the arm stalls) it imagines a new plan of K frames from the
current camera image; for each planned frame in turn it asks the inverse-dynamics model for the action
chunk that gets there and executes it. Any `Planner` works: the trained `VideoPlanner`, a
`ComposedPlanner` or an `OraclePlanner`.
"""

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from foundation.errors import InputError
from foundation.frames import resize_images
from inverse_dynamics.model import InverseDynamics
from robot_io.safety import check_finite_state
from robot_io.types import Observation, RobotFeatures
from video_planner.control.settings import ReplanRule
from video_planner.model.protocols import Planner, SamplingPlanner, VideoPlan


@dataclass
class PlanRecord:
    step: int  # env step at which the plan was made
    plan: VideoPlan


@dataclass
class AgentLog:
    plans: list[PlanRecord] = field(default_factory=list)
    target_per_step: list[tuple[int, int]] = field(default_factory=list)  # (plan index, frame index) per step
    seconds: dict[str, float] = field(default_factory=lambda: {"plan": 0.0, "idm": 0.0})
    stall_replans: int = 0


class Agent:
    """Closed-loop policy: plan → inverse dynamics → action chunks, replanning as `rule` says."""

    def __init__(self, planner: Planner, idm: InverseDynamics, rule: ReplanRule | None = None, seed: int = 0):
        check_compatible(planner, idm)
        self.planner, self.idm = planner, idm
        self.rule = rule or ReplanRule(replan_every=3 * idm.config.chunk_size)
        check_replan_every(self.rule.replan_every, idm)
        if self.rule.plan_samples > 1 and not isinstance(planner, SamplingPlanner):
            raise InputError(
                f"plan_samples {self.rule.plan_samples} needs a planner that draws several plans in one call "
                f"(a trained or composed planner, or the planning API's client), not {type(planner).__name__}"
            )
        self.seed = seed
        self.reset("")

    def reset(self, instruction: str, seed: int | None = None) -> None:
        """Starts an episode; plans draw their noise from `seed` (default: the agent's) and the plan count."""
        self.instruction = instruction
        self.episode_seed = self.seed if seed is None else seed
        self.log = AgentLog()
        self._actions: deque[np.ndarray] = deque()
        self._plan: VideoPlan | None = None
        self._next_target = 0
        self._steps = 0
        self._since_plan = 0
        self._hand_history: deque[np.ndarray] = deque(maxlen=self.rule.stall_steps + 1)

    def needs_image(self) -> bool:
        """Whether the next `act` looks at the camera (a new plan or a new action chunk)."""
        return not self._actions

    def act(self, observation: Observation) -> np.ndarray:
        """The action for this step, from the queued chunk or, when it is spent, from a new one."""
        self._observe_state(observation)  # also on steps of a queued chunk: the stall rule watches every step
        if not self._actions:
            self._actions.extend(self._chunk(observation))
        self._count_steps(1)
        return self._actions.popleft()

    def next_chunk(self, observation: Observation) -> np.ndarray:
        """The next whole action chunk, (k, A), for callers that execute chunks themselves (LeRobot's
        `predict_action_chunk`): the agent counts its k steps as taken. Not to be mixed with `act` in an episode."""
        if self._actions:
            raise RuntimeError("act() left actions of a chunk queued; use one of act and next_chunk per episode")
        self._observe_state(observation)
        chunk = self._chunk(observation)
        self._count_steps(len(chunk))
        return chunk

    def _observe_state(self, observation: Observation) -> None:
        state = check_finite_state(observation.state, self.idm.config.state_dim)
        self._hand_history.append(state[:3])

    def _count_steps(self, steps: int) -> None:
        self._steps += steps
        self._since_plan += steps

    def _chunk(self, observation: Observation) -> np.ndarray:
        """Plans when the rule says so, then asks the IDM for the chunk toward the next planned frame. # (k, A)"""
        if self._plan is None or self._since_plan >= self.rule.replan_every or self._stalled():
            self._replan(observation)
        return self._next_idm_chunk(observation)

    def _stalled(self) -> bool:
        if len(self._hand_history) <= self.rule.stall_steps:
            return False
        moved = np.linalg.norm(self._hand_history[-1] - self._hand_history[0])
        if moved < self.rule.stall_distance:
            self.log.stall_replans += 1
            return True
        return False

    def _replan(self, observation: Observation) -> None:
        if observation.image is None:
            raise RuntimeError("the agent needs a camera image to plan; render when needs_image() is True")
        start = time.perf_counter()
        seed = self.episode_seed * 1_000 + len(self.log.plans)
        if self.rule.plan_samples == 1:
            self._plan = self.planner.plan(observation.image, self.instruction, seed=seed)
        else:
            samples = self.planner.plan_samples(observation.image, self.instruction, self.rule.plan_samples, seed=seed)
            self._plan = medoid(samples)
        self.log.seconds["plan"] += time.perf_counter() - start
        self.log.plans.append(PlanRecord(self._steps, self._plan))
        self._next_target, self._since_plan = 0, 0
        self._hand_history.clear()
        self._hand_history.append(np.asarray(observation.state[:3]))

    def _next_idm_chunk(self, observation: Observation) -> np.ndarray:
        frame_index = min(self._next_target, len(self._plan.frames) - 1)  # past the plan: hold its last frame
        start = time.perf_counter()
        sizes = self.planner.config.image_size, self.idm.config.image_size
        image, target = (idm_view(f, *sizes) for f in (observation.image, self._plan.frames[frame_index]))
        chunk = self.idm.actions(image, observation.state, target)  # (k, A)
        self.log.seconds["idm"] += time.perf_counter() - start
        self._next_target += 1
        self.log.target_per_step.extend([(len(self.log.plans) - 1, frame_index)] * len(chunk))
        return chunk

    def target_frame(self, step: int) -> np.ndarray:
        """The planned frame the agent was heading for at env step `step`. # (H, W, 3) uint8"""
        plan_index, frame_index = self.log.target_per_step[step]
        return self.log.plans[plan_index].plan.frames[frame_index]


def idm_view(frame: np.ndarray, plan_size: int, idm_size: int) -> np.ndarray:
    """A camera image or planned frame as the IDM reads it: area-downsampled to `idm_size` when it is at the
    planner's finer `plan_size` (`check_compatible`), as the IDM saw its training demos; any other frame goes to
    the IDM as it is, to be checked there. # (H, W, 3) uint8"""
    if np.shape(frame)[:2] != (plan_size, plan_size):
        return frame
    return resize_images(frame, idm_size)


def medoid(plans: list[VideoPlan]) -> VideoPlan:
    """The plan with the least summed pixel distance (Euclidean) to the others: what most samples agree on,
    where an outlier sample (an object drawn away, an arm that vanishes) is the odd one out."""
    flat = np.stack([plan.frames.reshape(-1) for plan in plans]).astype(np.float64)  # (N, K·H·W·3)
    squared_norms = (flat**2).sum(axis=1)
    squared = squared_norms[:, None] + squared_norms[None, :] - 2 * flat @ flat.T  # (N, N)
    return plans[int(np.sqrt(np.clip(squared, 0, None)).sum(axis=1).argmin())]


def check_compatible(planner: Planner, idm: InverseDynamics) -> None:
    """Refuses a planner and an IDM that disagree on steps between planned frames, or whose image sizes are not a
    whole multiple apart with the planner's the larger: a planner may draw finer frames than the IDM reads (the
    IDM sees them area-downsampled, as it saw its training demos), never coarser ones."""
    plan_size, idm_size = planner.config.image_size, idm.config.image_size
    if plan_size % idm_size:
        raise InputError(
            f"the planner's {plan_size} px frames are not a whole multiple of the IDM's {idm_size} px: pair it "
            f"with an IDM trained at {plan_size} px or at a divisor of it"
        )
    refuse_mismatch(
        ("planner and inverse-dynamics model", "planner", "IDM"),
        {
            "steps between planned frames (planner frame_stride vs IDM chunk_size)": (
                planner.config.frame_stride,
                idm.config.chunk_size,
            ),
        },
    )


def check_replan_every(replan_every: int, idm: InverseDynamics) -> None:
    """Refuses a replanning interval that would cut an IDM action chunk in two."""
    if replan_every % idm.config.chunk_size:
        raise InputError(
            f"replan_every {replan_every} must be a multiple of the IDM chunk size {idm.config.chunk_size}"
        )


def check_robot_compatible(idm: InverseDynamics, robot: RobotFeatures) -> None:
    """Refuses an IDM whose action or state space is not the robot's."""
    refuse_mismatch(
        ("inverse-dynamics model and robot", "IDM", "robot"),
        {
            "action dimension": (idm.config.action_dim, robot.action_dim),
            "state dimension": (idm.config.state_dim, robot.state_dim),
        },
    )


def refuse_mismatch(names: tuple[str, str, str], pairs: dict[str, tuple], fix: str = "") -> None:
    """One error line naming the first property two components disagree on, with both values (and `fix`)."""
    both, first, second = names
    for what, (a, b) in pairs.items():
        if a != b:
            raise InputError(f"{both} disagree on {what}: {first} {a}, {second} {b}" + (f"; {fix}" if fix else ""))
