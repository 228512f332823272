"""Hyperparameters of an inverse-dynamics training run, kept import-light for the CLI."""

from dataclasses import dataclass

from foundation.config_io import check_ranges, ranged
from foundation.errors import InputError
from foundation.replay_settings import check_replay


@dataclass(frozen=True)
class IDMTrainConfig:
    # LeRobot datasets: `vp collect`'s (expert, noisy-expert, exploration) or any robot's (`lerobot-record`)
    datasets: tuple[str, ...]
    steps: int = ranged(16_000, "[1, inf)")  # optimisation steps (a resumed run may raise it)
    batch_size: int = ranged(32, "[1, inf)")  # samples per step
    learning_rate: float = ranged(3e-4, "(0, inf)")  # AdamW, constant after the warm-up
    weight_decay: float = ranged(1e-4, "[0, inf)")  # AdamW
    warmup_steps: int = ranged(200, "[0, inf)")  # linear learning-rate warm-up
    shift_pixels: int = ranged(4, "[0, inf)")  # random shift augmentation, the same shift for both frames of a sample
    checkpoint_every: int = ranged(500, "[1, inf)")  # steps between atomic checkpoints (what --resume continues from)
    seed: int = ranged(0, "[0, inf)")  # initial weights and every step's draws
    # An inverse-dynamics directory to fine-tune (SAIL): its weights and state/action normalisation are the
    # start, and the model config must equal the one saved there.
    init_from: str | None = None
    # Demo datasets mixed into every batch, `replay_fraction` of its rows (SAIL fine-tunes on few rollouts).
    replay: tuple[str, ...] = ()
    replay_fraction: float = ranged(0.5, "(0, 1)")  # share of each batch drawn from the replay datasets, in (0, 1)
    # the camera the model learns from, e.g. observation.images.front; unset: observation.image (what `vp`
    # records), or a dataset's only camera (frames of another aspect are centre-cropped square)
    camera_key: str | None = None

    def __post_init__(self):
        if not self.datasets:
            raise InputError("inverse-dynamics training needs at least one --dataset")
        check_replay(self.replay, self.replay_fraction, "inverse-dynamics train config")
        check_ranges(self, "inverse-dynamics train config")


# Fields a resumed run may change: they do not alter what any step computes.
RESUMABLE_CHANGES = frozenset({"steps", "checkpoint_every"})
