"""Collection recipes: TOML files in datasets/ that say which expert demos to record and how."""

import tomllib
from dataclasses import dataclass
from pathlib import Path

from foundation.config_io import check_ranges, dataclass_from_dict, dataclass_to_dict, ranged
from foundation.errors import InputError
from robot_io.metaworld_tasks import MAX_EPISODE_STEPS, resolve_tasks, validate_camera


@dataclass(frozen=True)
class CollectionRecipe:
    """What `vp collect` records.

    Attempt `a` of camera `j` uses scene seed `seed + a * len(cameras) + j`, so demo seeds fill
    `[seed, seed + max_attempts_per_camera * len(cameras))`; evaluation seeds must stay outside it.
    """

    name: str  # dataset name; the LeRobot repo id is "video-planner/<name>"
    tasks: tuple[str, ...]  # MetaWorld task names, or ("avdc11",) for AVDC's 11 tasks
    cameras: tuple[str, ...] = ("corner", "corner2", "corner3")
    episodes_per_camera: int = ranged(5, "[1, inf)")  # successful episodes to keep per (task, camera)
    image_size: int = ranged(128, "[8, 1024]")  # square frames; the cpu planner preset downsamples to 64
    seed: int = ranged(0, "[0, inf)")  # first scene seed (see the class docstring)
    max_attempts_per_camera: int = ranged(20, "[1, inf)")  # expert attempts per (task, camera) before giving up
    max_episode_steps: int = ranged(MAX_EPISODE_STEPS, f"[1, {MAX_EPISODE_STEPS}]")
    # Gaussian noise added to expert actions; the executed action is recorded
    action_noise_std: float = ranged(0.0, "[0, inf)")
    exploration_prob: float = ranged(0.0, "[0, 1]")  # per-step chance of a 4-16 step random-action segment
    keep_failed: bool = False  # also record episodes where the expert failed

    def __post_init__(self):
        object.__setattr__(self, "tasks", tuple(resolve_tasks(list(self.tasks))))
        object.__setattr__(self, "cameras", tuple(validate_camera(c) for c in self.cameras))
        owner = f"recipe {self.name!r}"
        if not self.tasks or not self.cameras:
            raise InputError(f"{owner}: give at least one task and one camera")
        check_ranges(self, owner)
        if self.max_attempts_per_camera < self.episodes_per_camera:
            raise InputError(f"{owner}: max_attempts_per_camera must be at least episodes_per_camera")

    @property
    def repo_id(self) -> str:
        return f"video-planner/{self.name}"

    def scene_seed(self, attempt: int, camera_index: int) -> int:
        return self.seed + attempt * len(self.cameras) + camera_index

    def to_dict(self) -> dict:
        return dataclass_to_dict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str = "recipe") -> "CollectionRecipe":
        return dataclass_from_dict(cls, values, source)

    @classmethod
    def from_toml(cls, path: str | Path) -> "CollectionRecipe":
        path = Path(path)
        if not path.is_file():
            raise InputError(f"recipe file {path} does not exist; recipes live in datasets/*.toml")
        try:
            values = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"recipe file {path} is not valid TOML: {err}") from None
        return cls.from_dict(values, source=str(path))
