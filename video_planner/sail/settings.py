"""What one SAIL run does: tasks, models, how many rollouts, how they are filtered and what is fine-tuned
(import-light, for the CLI).

Seeds (`robot_io/scene_seeds.py`): evaluation uses `vp eval`'s scene seeds (from 1,000,000, or from
`eval_first_seed`, + 1000·camera + i); iteration k's rollouts use 3,000,000 + 100,000·k + 1000·camera + i, so
no rollout ever shares a scene with an evaluation episode, with a recipe's demos or with another iteration's
rollouts.
"""

import json
import typing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from foundation.atomic_dir import write_text_atomic
from foundation.config_io import check_ranges, dataclass_from_dict, dataclass_to_dict, ranged, read_json
from foundation.errors import InputError
from foundation.replay_settings import check_replay
from robot_io.metaworld_tasks import resolve_tasks, validate_camera
from robot_io.scene_seeds import (
    EVALUATION_FIRST_SEED,
    SAIL_MAX_ITERATIONS,
    SAIL_ROLLOUT_FIRST_SEED,
    SAIL_SEEDS_PER_ITERATION,
    SELECTION_FIRST_SEED,
    check_closed_loop_seeds,
)
from video_planner.control.settings import ControlEvalSettings
from video_planner.model.planner_source import PlannerSource

Filter = Literal["none", "oracle", "learned"]
FinetuneTarget = Literal["planner", "idm", "both"]
FILTERS, FINETUNE_TARGETS = typing.get_args(Filter), typing.get_args(FinetuneTarget)
SETTINGS_FILE = "sail.json"


@dataclass(frozen=True, kw_only=True)
class SelfTrainingSettings:
    """SAIL's step after the rollouts: which rollouts are kept and how the models are fine-tuned on them. Shared
    by `vp sail` (rollouts it runs in MetaWorld) and `vp sail-step` (rollouts recorded elsewhere: the daemon's).
    The planner fine-tuned is the in-domain one; a prior is never fine-tuned."""

    idm: str  # inverse-dynamics directory or Hub repo id to start from
    filter: Filter = "oracle"  # which rollouts fine-tune: all, the simulator's solved ones, or the detector's
    detector: str | None = None  # success detector directory, for --filter learned (and its scores)
    threshold: float = ranged(0.5, "[0, 1]")  # detector probability above which a rollout counts as solved
    keep_fraction: float | None = ranged(
        None, "(0, 1]"
    )  # learned filter: keep this share of each task's rollouts, the likeliest
    finetune: FinetuneTarget = "both"  # which models the kept rollouts fine-tune
    planner_steps: int = ranged(1000, "[1, inf)")  # planner fine-tuning steps per iteration
    planner_learning_rate: float = ranged(2e-5, "(0, inf)")  # of the planner's fine-tuning
    idm_steps: int = ranged(1000, "[1, inf)")  # IDM fine-tuning steps per iteration
    idm_learning_rate: float = ranged(1e-4, "(0, inf)")  # of the IDM's fine-tuning
    warmup_steps: int = ranged(50, "[0, inf)")  # learning-rate warm-up of each fine-tune
    # Demo datasets mixed into every fine-tune (`replay_fraction` of each batch), against self-training drift
    replay: tuple[str, ...] = ()
    replay_fraction: float = ranged(0.5, "(0, 1)")  # share of each batch drawn from the replay datasets, in (0, 1)
    match_replay_pace: bool = False  # the planner's clips of rollouts paced to the replay demos' mean length

    def __post_init__(self):
        for name, value, valid in (("filter", self.filter, FILTERS), ("finetune", self.finetune, FINETUNE_TARGETS)):
            if value not in valid:
                raise InputError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
        check_replay(self.replay, self.replay_fraction, "sail")
        if self.match_replay_pace and not self.replay:
            raise InputError("--match-replay-pace needs --replay, the demo datasets to take the pace from")
        if self.filter == "learned" and self.detector is None:
            raise InputError("--filter learned needs --detector, a success detector directory (vp train-success)")
        if self.keep_fraction is not None and (self.filter != "learned" or not 0.0 < self.keep_fraction <= 1.0):
            raise InputError(
                f"--keep-fraction ranks the learned filter's verdicts: it needs --filter learned and a value in "
                f"(0, 1], got --filter {self.filter} --keep-fraction {self.keep_fraction}"
            )
        check_ranges(self, "sail", SelfTrainingSettings)

    def fine_tunes(self, model: str) -> bool:
        return self.finetune in (model, "both")


@dataclass(frozen=True, kw_only=True)
class SailSettings(SelfTrainingSettings, PlannerSource):
    """A SAIL run in MetaWorld: iteration 0's models roll out, are filtered and fine-tuned, iteration after
    iteration, and every iteration is evaluated."""

    tasks: tuple[str, ...]  # MetaWorld tasks to improve on, e.g. ones no model was trained on
    # fine-tuning rounds; iterations 0..N are evaluated
    iterations: int = ranged(4, f"[0, {SAIL_MAX_ITERATIONS - 1}]")
    rollouts: int = ranged(30, "[1, inf)")  # per task and iteration, spread evenly over the cameras
    eval_seeds: int = ranged(5, "[1, inf)")  # evaluation episodes per task and camera, the same scenes every iteration
    # scene seed of the first evaluation episode (camera j, episode i: + 1000·j + i), inside the evaluation range:
    # a later start gives scenes no earlier choice of settings looked at
    eval_first_seed: int = ranged(EVALUATION_FIRST_SEED, "[0, inf)")
    # selection episodes per task and camera, each iteration, on scenes of their own: choose settings on these,
    # never on the evaluation scenes (0: none)
    selection_seeds: int = ranged(0, "[0, 1000]")
    cameras: tuple[str, ...] = ControlEvalSettings.cameras  # cameras of rollouts and evaluations
    # evaluations and the oracle filter's rollouts end here or at a success; the other filters' rollouts run this long
    max_episode_steps: int = ControlEvalSettings.max_episode_steps
    replan_every: int = ControlEvalSettings.replan_every  # env steps between plans
    # let a target be a task the planner, prior, IDM or detector trained on (the report then says so)
    allow_seen_targets: bool = False
    workers: int = ControlEvalSettings.workers  # environments stepping side by side in Ray worker processes

    def __post_init__(self):
        PlannerSource.__post_init__(self)
        SelfTrainingSettings.__post_init__(self)
        object.__setattr__(self, "tasks", tuple(resolve_tasks(list(self.tasks))))
        object.__setattr__(self, "cameras", tuple(validate_camera(c) for c in self.cameras))
        if self.rollouts < 1 or self.rollouts % len(self.cameras):
            raise InputError(
                f"rollouts per task ({self.rollouts}) must be a positive multiple of the {len(self.cameras)} cameras"
            )
        check_ranges(self, "sail")
        check_closed_loop_seeds(self.eval_first_seed, len(self.cameras))
        self.eval_settings(), self.rollout_settings(0)  # their own checks (seeds per camera at most 1000)

    def eval_settings(self):
        return self._control(self.eval_seeds, self.eval_first_seed)

    def selection_settings(self):
        """The iteration's episodes on the selection scenes (None without selection seeds)."""
        return self._control(self.selection_seeds, SELECTION_FIRST_SEED) if self.selection_seeds else None

    def rollout_settings(self, iteration: int):
        """The iteration's rollouts. Only the oracle filter reads the simulator's verdict, so only its rollouts
        stop at success; the others run to the step limit, and no episode's length gives its outcome away."""
        first_seed = SAIL_ROLLOUT_FIRST_SEED + SAIL_SEEDS_PER_ITERATION * iteration
        seeds = self.rollouts // len(self.cameras)
        return self._control(seeds, first_seed, stop_at_success=self.filter == "oracle")

    def _control(self, seeds: int, first_seed: int, stop_at_success: bool = True) -> ControlEvalSettings:
        return ControlEvalSettings(
            tasks=self.tasks,
            cameras=self.cameras,
            seeds=seeds,
            first_seed=first_seed,
            max_episode_steps=self.max_episode_steps,
            replan_every=self.replan_every,
            stop_at_success=stop_at_success,
            workers=self.workers,
        )


def pin_settings(output: Path, settings: SailSettings) -> None:
    """Writes `sail.json`, or checks a rerun against it: only `iterations` (to extend a run), `device` and
    `workers` may change."""
    path = output / SETTINGS_FILE
    if path.is_file():
        saved = dataclass_from_dict(SailSettings, read_json(path), str(path))
        if replace(saved, iterations=settings.iterations, device=settings.device, workers=settings.workers) != settings:
            ours, theirs = dataclass_to_dict(settings), dataclass_to_dict(saved)
            changed = [k for k in ours if ours[k] != theirs[k] and k not in ("iterations", "device", "workers")]
            raise InputError(
                f"{output} holds a SAIL run with other settings ({', '.join(changed)} changed); "
                "rerun with its settings or choose another --output"
            )
    write_text_atomic(path, json.dumps(dataclass_to_dict(settings), indent=2))


@dataclass(frozen=True, kw_only=True)
class SailStepSettings(SelfTrainingSettings):
    """One SAIL step on rollouts recorded elsewhere (a daemon's episodes on a real arm, or `vp eval --record`'s):
    filter them, then fine-tune the models on the kept ones. Nothing is evaluated: there is no simulator."""

    rollouts: str  # the recorded rollouts: a LeRobotDataset written by `vp daemon` or by `vp eval --record`
    planner: str  # planner directory or Hub repo id to fine-tune
    filter: Filter = "learned"  # which rollouts fine-tune: all, the simulator's solved ones, or the detector's
