"""What a closed-loop run does: which scenes, how long, how often to replan. Import-light (no torch, no
simulator), so the CLI and SAIL's settings read these defaults instead of restating them."""

from dataclasses import dataclass

from foundation.errors import InputError
from robot_io.metaworld_tasks import MAX_EPISODE_STEPS, resolve_tasks, validate_camera


@dataclass(frozen=True)
class ReplanRule:
    replan_every: int = 24  # env steps between plans; a multiple of the IDM chunk size
    stall_steps: int = 8  # replan early when the hand moved less than `stall_distance` over this many steps
    stall_distance: float = 0.005  # metres

    def __post_init__(self):
        if self.replan_every < 1 or self.stall_steps < 1 or self.stall_distance < 0:
            raise InputError(f"invalid replanning rule {self}")


@dataclass(frozen=True)
class ControlEvalSettings:
    tasks: tuple[str, ...] = ("avdc11",)  # MetaWorld task names, or 'avdc11' for AVDC's eleven
    cameras: tuple[str, ...] = ("corner", "corner2", "corner3")  # MetaWorld cameras, each with its own scene seeds
    seeds: int = 25  # scene seeds per task and camera (AVDC: 25)
    first_seed: int = 1_000_000  # camera j, episode i uses scene seed first_seed + 1000·j + i
    max_episode_steps: int = MAX_EPISODE_STEPS  # an episode ends here unless solved before
    replan_every: int = ReplanRule.replan_every  # env steps between plans; a multiple of the IDM chunk size
    videos: bool = False  # an mp4 per rollout: execution left, the planned frame it heads for right

    def __post_init__(self):
        object.__setattr__(self, "tasks", tuple(resolve_tasks(list(self.tasks))))
        object.__setattr__(self, "cameras", tuple(validate_camera(c) for c in self.cameras))
        if not 1 <= self.seeds <= 1000:
            raise InputError(f"seeds per camera must be in [1, 1000], got {self.seeds}")
        if not 1 <= self.max_episode_steps <= MAX_EPISODE_STEPS:
            raise InputError(f"max_episode_steps must be in [1, {MAX_EPISODE_STEPS}], got {self.max_episode_steps}")
        ReplanRule(self.replan_every)  # its own check

    def episodes(self) -> list[tuple[str, str, int]]:
        return [
            (task, camera, self.first_seed + 1000 * j + i)
            for task in self.tasks
            for j, camera in enumerate(self.cameras)
            for i in range(self.seeds)
        ]
