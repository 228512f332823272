"""Every range of scene seeds the project uses, named in one place, and the rule that keeps scores honest.

A scene seed fixes a task's initial layout. A score measured on a scene that a model trained on, or that a
setting was chosen on, measures memory or selection, not the model: so the scenes that score (held-out demos,
closed-loop evaluation) and the scenes that choose (selection) share no seed with any other range, and SAIL's
rollouts, which fine-tune, share none either. Training sets may share scenes with each other (training on a
scene twice scores nothing). `tests/test_scene_seeds.py` checks every recipe in `datasets/` against its entry
here and every pair of entries against the rule; `vp eval` and `vp sail` refuse evaluation seeds that a
training, selection or rollout range claims.

Closed-loop runs give camera j, episode i the seed `first_seed + 1000·j + i` (at most 1000 episodes per camera),
so a run of C cameras from `first_seed` spans [first_seed, first_seed + 1000·C).
"""

from dataclasses import dataclass
from typing import Literal

from foundation.errors import InputError

Role = Literal["training", "held-out", "selection", "evaluation", "rollouts"]
SCORED: tuple[Role, ...] = ("held-out", "selection", "evaluation")
SEEDS_PER_CAMERA = 1000  # the stride between cameras of a closed-loop run
MAX_CAMERAS = 3  # MetaWorld's corner, corner2, corner3
SAIL_MAX_ITERATIONS = 20  # iterations whose rollouts have seeds reserved
SAIL_SEEDS_PER_ITERATION = 100_000


@dataclass(frozen=True)
class SeedRange:
    """The scene seeds [first, end) of one use."""

    name: str
    role: Role
    first: int
    end: int

    def overlaps(self, first: int, end: int) -> bool:
        return self.first < end and first < self.end


def _recipe(name: str, seed: int, role: Role = "training", attempts: int = 20, cameras: int = 3) -> SeedRange:
    """A collection recipe's seeds: attempt a of camera j uses seed + a·cameras + j."""
    return SeedRange(f"recipe {name}", role, seed, seed + attempts * cameras)


def _closed_loop(name: str, role: Role, first: int, runs: int = 1) -> SeedRange:
    return SeedRange(name, role, first, first + runs * SEEDS_PER_CAMERA * MAX_CAMERAS)


EVALUATION_FIRST_SEED = 1_000_000  # `vp eval` and SAIL's per-iteration evaluation
SELECTION_FIRST_SEED = 2_000_000  # choosing filter and composition settings; never scores an iteration
SAIL_ROLLOUT_FIRST_SEED = 3_000_000  # iteration k: + SAIL_SEEDS_PER_ITERATION·k
TRAINING_ROLLOUT_FIRST_SEED = 5_000_000  # rollouts recorded to train on (`vp eval --record --for-training`)

FIRST_SEEDS: dict[Role, int] = {  # where each role of `vp eval` starts by default
    "evaluation": EVALUATION_FIRST_SEED,
    "selection": SELECTION_FIRST_SEED,
    "training": TRAINING_ROLLOUT_FIRST_SEED,
}

SEED_RANGES: tuple[SeedRange, ...] = (
    _recipe("metaworld_tiny", 0, attempts=3, cameras=2),
    _recipe("metaworld_avdc11", 0),
    _recipe("metaworld_avdc11_heldout", 50_000, role="held-out"),
    _recipe("metaworld_avdc11_noisy", 100_000),
    _recipe("metaworld_avdc11_explore", 200_000),
    _recipe("metaworld_avdc11_more", 300_000, attempts=60),
    _recipe("metaworld_mt50_prior", 400_000),
    _recipe("metaworld_mt50_heldout", 450_000, role="held-out"),
    _closed_loop("closed-loop evaluation", "evaluation", EVALUATION_FIRST_SEED),
    _closed_loop("selection", "selection", SELECTION_FIRST_SEED),
    SeedRange(
        "SAIL rollouts",
        "rollouts",
        SAIL_ROLLOUT_FIRST_SEED,
        SAIL_ROLLOUT_FIRST_SEED + SAIL_SEEDS_PER_ITERATION * SAIL_MAX_ITERATIONS,
    ),
    _closed_loop("recorded training rollouts", "training", TRAINING_ROLLOUT_FIRST_SEED),
)


def closed_loop_span(first_seed: int, cameras: int) -> tuple[int, int]:
    """The seeds [first, end) a closed-loop run of `cameras` cameras from `first_seed` may use."""
    return first_seed, first_seed + SEEDS_PER_CAMERA * cameras


def check_closed_loop_seeds(first_seed: int, cameras: int, role: Role = "evaluation") -> None:
    """Refuses, in one line, a closed-loop run on scenes that a range of another role claims: scoring
    (`role` evaluation or selection) on a recipe's, SAIL's rollouts' or the other scored role's scenes, or
    recording rollouts to train on (`role` training) on scenes that score or that SAIL rolls out on."""
    first, end = closed_loop_span(first_seed, cameras)
    for claimed in SEED_RANGES:
        if claimed.role != role and claimed.overlaps(first, end):
            raise InputError(
                f"{role} seeds [{first}, {end}) overlap the scenes of {claimed.name} ({claimed.role}, "
                f"[{claimed.first}, {claimed.end})); choose --first-seed outside it, e.g. {FIRST_SEEDS[role]}"
            )
