"""What one SAIL run does: tasks, models, how many rollouts, how they are filtered and what is fine-tuned
(import-light, for the CLI).

Seeds: evaluation always uses the `vp eval` scene seeds (1,000,000 + 1000·camera + i); iteration k's
rollouts use 3,000,000 + 100,000·k + 1000·camera + i, so no rollout ever shares a scene with an evaluation
episode or with another iteration's rollouts.
"""

import json
from dataclasses import dataclass, replace
from pathlib import Path

from foundation.atomic_dir import write_text_atomic
from foundation.config_io import dataclass_from_dict, dataclass_to_dict
from foundation.errors import InputError
from foundation.replay_settings import check_replay
from robot_io.metaworld_tasks import MAX_EPISODE_STEPS, resolve_tasks, validate_camera

FILTERS = ("none", "oracle", "learned")
FINETUNE_TARGETS = ("planner", "idm", "both")
EVAL_FIRST_SEED = 1_000_000
ROLLOUT_FIRST_SEED = 3_000_000
ROLLOUT_SEEDS_PER_ITERATION = 100_000
SETTINGS_FILE = "sail.json"


@dataclass(frozen=True)
class SailSettings:
    tasks: tuple[str, ...]
    planner: str  # the in-domain planner of iteration 0 (directory or Hub id); it is the one fine-tuned
    idm: str
    prior: str | None = None  # a planner directory composed with the in-domain planner, never fine-tuned
    prior_motion_adapter: str | None = (
        None  # makes `prior` a Stable Diffusion base animated by this AnimateDiff adapter
    )
    mode: str = "ipa"
    prior_strength: float | None = None  # γ; None: the mode's default
    composition_guidance: float | None = None  # α; None: 2.5
    sampling_steps: int | None = None  # per plan; None: the planner config's
    iterations: int = 4  # fine-tuning rounds; iterations 0..N are evaluated
    rollouts: int = 30  # per task and iteration, spread evenly over the cameras
    eval_seeds: int = 5  # evaluation episodes per task and camera, the same scenes every iteration
    cameras: tuple[str, ...] = ("corner", "corner2", "corner3")
    filter: str = "oracle"
    detector: str | None = None  # success detector directory, for --filter learned (and its scores)
    threshold: float = 0.5  # detector probability above which a rollout counts as solved
    keep_fraction: float | None = None  # learned filter: keep this share of each task's rollouts, the likeliest
    finetune: str = "both"
    planner_steps: int = 1000
    planner_learning_rate: float = 2e-5
    idm_steps: int = 1000
    idm_learning_rate: float = 1e-4
    warmup_steps: int = 50
    # Demo datasets mixed into every fine-tune (`replay_fraction` of each batch), against self-training drift
    replay: tuple[str, ...] = ()
    replay_fraction: float = 0.5
    match_replay_pace: bool = False  # the planner's clips of rollouts paced to the replay demos' mean length
    max_episode_steps: int = MAX_EPISODE_STEPS
    replan_every: int = 24
    device: str | None = None  # where models run and train; None: cuda when there is one. May change on resume

    def __post_init__(self):
        from video_planner.model.composition import MODES

        object.__setattr__(self, "tasks", tuple(resolve_tasks(list(self.tasks))))
        object.__setattr__(self, "cameras", tuple(validate_camera(c) for c in self.cameras))
        for name, value, valid in (
            ("filter", self.filter, FILTERS),
            ("finetune", self.finetune, FINETUNE_TARGETS),
            ("mode", self.mode, MODES),
        ):
            if value not in valid:
                raise InputError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
        if self.prior is None and (
            self.prior_motion_adapter or self.prior_strength is not None or self.composition_guidance is not None
        ):
            raise InputError(
                "prior_motion_adapter, prior_strength and composition_guidance need a prior to compose with"
            )
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
        if self.rollouts < 1 or self.rollouts % len(self.cameras):
            raise InputError(
                f"rollouts per task ({self.rollouts}) must be a positive multiple of the {len(self.cameras)} cameras"
            )
        for key in ("iterations", "eval_seeds", "planner_steps", "idm_steps"):
            if getattr(self, key) < (0 if key == "iterations" else 1):
                raise InputError(f"sail: {key} must be positive, got {getattr(self, key)}")
        self.eval_settings(), self.rollout_settings(0)  # their own checks (seeds per camera at most 1000)

    def eval_settings(self):
        return self._control(self.eval_seeds, EVAL_FIRST_SEED)

    def rollout_settings(self, iteration: int):
        first_seed = ROLLOUT_FIRST_SEED + ROLLOUT_SEEDS_PER_ITERATION * iteration
        return self._control(self.rollouts // len(self.cameras), first_seed)

    def _control(self, seeds_per_camera: int, first_seed: int):
        from video_planner.control.closed_loop_eval import ControlEvalSettings

        return ControlEvalSettings(
            tasks=self.tasks,
            cameras=self.cameras,
            seeds_per_camera=seeds_per_camera,
            first_seed=first_seed,
            max_episode_steps=self.max_episode_steps,
            replan_every=self.replan_every,
        )

    def fine_tunes(self, model: str) -> bool:
        return self.finetune in (model, "both")


def pin_settings(output: Path, settings: SailSettings) -> None:
    """Writes `sail.json`, or checks a rerun against it: only `iterations` (to extend a run) and `device` may
    change."""
    path = output / SETTINGS_FILE
    if path.is_file():
        saved = dataclass_from_dict(SailSettings, json.loads(path.read_text()), str(path))
        if replace(saved, iterations=settings.iterations, device=settings.device) != settings:
            ours, theirs = dataclass_to_dict(settings), dataclass_to_dict(saved)
            changed = [k for k in ours if ours[k] != theirs[k] and k not in ("iterations", "device")]
            raise InputError(
                f"{output} holds a SAIL run with other settings ({', '.join(changed)} changed); "
                "rerun with its settings or choose another --output"
            )
    write_text_atomic(path, json.dumps(dataclass_to_dict(settings), indent=2))
