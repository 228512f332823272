"""What a closed-loop run does: which scenes, how long, how often to replan. Import-light (no torch, no
simulator), so the CLI and SAIL's settings read these defaults instead of restating them."""

from dataclasses import dataclass

from foundation.config_io import check_ranges, ranged
from foundation.errors import InputError
from robot_io.metaworld_tasks import MAX_EPISODE_STEPS, MAX_RENDER_SCALE, resolve_tasks, validate_camera
from robot_io.scene_seeds import EVALUATION_FIRST_SEED, SEEDS_PER_CAMERA

MAX_PLAN_SAMPLES = 16


@dataclass(frozen=True)
class ReplanRule:
    replan_every: int = ranged(24, "[1, inf)")  # env steps between plans; a multiple of the IDM chunk size
    # replan early when the hand moved less than `stall_distance` over this many steps
    stall_steps: int = ranged(8, "[1, inf)")
    stall_distance: float = ranged(0.005, "[0, inf)")  # metres
    # plans drawn at each replanning, in one batch; with more than one the agent follows the medoid (the plan
    # closest to the others), the samples' consensus; each costs a plan's denoising
    plan_samples: int = ranged(1, f"[1, {MAX_PLAN_SAMPLES}]")

    def __post_init__(self):
        check_ranges(self, "replanning rule")


@dataclass(frozen=True)
class ControlEvalSettings:
    tasks: tuple[str, ...] = ("avdc11",)  # MetaWorld task names, or 'avdc11' for AVDC's eleven
    cameras: tuple[str, ...] = ("corner", "corner2", "corner3")  # MetaWorld cameras, each with its own scene seeds
    seeds: int = ranged(25, "[1, 1000]")  # scene seeds per task and camera (AVDC: 25)
    # camera j, episode i uses scene seed first_seed + 1000·j + i (robot_io/scene_seeds.py names every range)
    first_seed: int = ranged(EVALUATION_FIRST_SEED, "[0, inf)")
    # an episode ends here (or before, at its first success, with stop_at_success)
    max_episode_steps: int = ranged(MAX_EPISODE_STEPS, f"[1, {MAX_EPISODE_STEPS}]")
    # end an episode at the simulator's first success (AVDC's protocol); off, every episode runs
    # max_episode_steps, so its length says nothing of its outcome (what label-free SAIL rollouts need)
    stop_at_success: bool = True
    replan_every: int = ReplanRule.replan_every  # env steps between plans; a multiple of the IDM chunk size
    plan_samples: int = ReplanRule.plan_samples  # plans drawn per replanning; above 1 the agent follows their medoid
    # the camera renders this many times the models' size and is area-resized to it, as the frames of datasets
    # recorded at that larger size reach the models in training (AVDC-11's recipes record 128 px: 2 for 64 px)
    render_scale: int = ranged(1, f"[1, {MAX_RENDER_SCALE}]")
    # draw shadows, reflections and the skybox as gymnasium's render() (and LeRobot's MetaWorld env) does; the
    # recipes record without them, so this measures a model on images of another look
    render_effects: bool = False
    videos: bool = False  # an mp4 per rollout: execution left, the planned frame it heads for right
    # environments stepping side by side, each in a Ray worker process; their plans share one planner call.
    # A scene's result does not depend on it (pip install 'video-planner[ray]' for more than 1)
    workers: int = ranged(1, "[1, 256]")

    def __post_init__(self):
        object.__setattr__(self, "tasks", tuple(resolve_tasks(list(self.tasks))))
        object.__setattr__(self, "cameras", tuple(validate_camera(c) for c in self.cameras))
        if not self.cameras:
            raise InputError("no camera given; name at least one, e.g. corner")
        check_ranges(self, "closed-loop settings")
        if self.plan_samples > 1 and self.workers > 1:
            raise InputError("--plan-samples above 1 runs with --workers 1: the workers' plans share single-plan calls")
        self.replan_rule()  # its own checks

    def replan_rule(self) -> ReplanRule:
        return ReplanRule(self.replan_every, plan_samples=self.plan_samples)

    def episodes(self) -> list[tuple[str, str, int]]:
        return [
            (task, camera, self.first_seed + SEEDS_PER_CAMERA * j + i)
            for task in self.tasks
            for j, camera in enumerate(self.cameras)
            for i in range(self.seeds)
        ]
