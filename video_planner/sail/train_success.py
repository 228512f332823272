"""Training the success detector from episodes whose outcome is known (demos, labelled rollouts).

Every batch is half successes, half failures. A success is an episode's first frame with one of its last
three frames, for a solved episode. A failure is drawn evenly from the configured kinds:
    early              an early frame of a solved episode (the task not done yet)
    failed             the ending of an episode that failed (when the data has any)
    other-instruction  a solved episode under another task's instruction (so the instruction matters)
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from foundation.errors import InputError
from foundation.frames import frames_to_unit, random_shift
from robot_io.frame_bank import FrameBank
from robot_io.metaworld_tasks import task_of_instruction
from video_planner.model.text_encoder import TextEncoder
from video_planner.sail.success_detector import SuccessDetector, SuccessDetectorConfig
from video_planner.sail.success_train_config import SuccessTrainConfig


def outcomes(bank: FrameBank) -> np.ndarray:
    """The bank's recorded episode outcomes (E,) bool: the detector learns and is scored against them."""
    if bank.successes is None:
        raise InputError(
            "these datasets record no outcome (next.success); the success detector learns from and is scored on "
            "demos or rollouts recorded by `vp collect` or `vp eval --record`"
        )
    return bank.successes


def _pairs(bank: FrameBank, train_config: SuccessTrainConfig, rng: np.random.Generator):
    """Frame indices and instructions of one balanced batch. -> first (B,), last (B,), instructions, labels (B,)"""
    solved_episodes = outcomes(bank)
    solved, failed = np.flatnonzero(solved_episodes), np.flatnonzero(~solved_episodes)
    if len(solved) == 0:
        raise InputError("the success detector needs at least one solved episode to learn from")
    distinct = sorted(set(bank.instructions))
    firsts, lasts, instructions, labels = [], [], [], []
    for i in range(train_config.batch_size):
        positive = i < train_config.batch_size // 2
        kind = "success" if positive else str(rng.choice(train_config.negatives))
        if kind == "failed" and len(failed) == 0 or kind == "other-instruction" and len(distinct) < 2:
            kind = "early"
        episode = int(rng.choice(failed if kind == "failed" else solved))
        start, length = int(bank.starts[episode]), int(bank.lengths[episode])
        end = start + length - 1
        instruction = bank.instructions[episode]
        if kind == "success":
            last = max(start, end - int(rng.integers(0, 3)))
        elif kind == "early":
            last = start + int(rng.integers(0, max(1, int(train_config.early_fraction * length))))
        else:
            last = end
        if kind == "other-instruction":
            instruction = str(rng.choice([d for d in distinct if d != instruction]))
        firsts.append(start)
        lasts.append(last)
        instructions.append(instruction)
        labels.append(float(positive))
    return np.array(firsts), np.array(lasts), instructions, torch.tensor(labels)


def train_success_detector(
    bank: FrameBank,
    config: SuccessDetectorConfig | None = None,
    train_config: SuccessTrainConfig | None = None,
    *,
    text_encoder: TextEncoder | None = None,
    show_progress: bool = True,
) -> SuccessDetector:
    """A detector trained on `bank`, whose frames must be at `config.image_size` (defaults: both configs').
    Member m of the ensemble trains alone, drawing its batches from seed `train_config.seed + m`."""
    config, train_config = config or SuccessDetectorConfig(), train_config or SuccessTrainConfig()
    if bank.frames.shape[-1] != config.image_size:
        raise InputError(f"bank frames are {bank.frames.shape[-1]} px; the detector expects {config.image_size}")
    torch.manual_seed(train_config.seed)
    detector = SuccessDetector(config, text_encoder).train()
    detector.trained_tasks = tuple(sorted({task_of_instruction(i) for i in bank.instructions}))
    for member in range(config.ensemble_size):
        _train_member(detector, member, bank, train_config, show_progress)
    return detector.eval()


def _train_member(
    detector: SuccessDetector, member: int, bank: FrameBank, train_config: SuccessTrainConfig, show_progress: bool
) -> None:
    """Trains one member net on its own batches; the others, and the frozen text encoder, stay as they are."""
    net, seed = detector.members[member], train_config.seed + member
    rng, generator = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(net.parameters(), lr=train_config.learning_rate)
    size = detector.config.ensemble_size
    desc = "success detector" + (f" {member + 1}/{size}" if size > 1 else "")
    bar = tqdm(range(train_config.steps), desc=desc, disable=not show_progress)
    for _ in bar:
        firsts, lasts, instructions, labels = _pairs(bank, train_config, rng)
        first, last = random_shift(
            bank.frames[firsts], bank.frames[lasts], train_config.shift_pixels, generator
        )  # (B, 3, S, S) each
        logits = net(frames_to_unit(first), frames_to_unit(last), detector.instruction_vectors(instructions))
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        bar.set_postfix(loss=f"{loss.item():.3f}")


@torch.no_grad()
def detection_scores(
    detector: SuccessDetector, bank: FrameBank, threshold: float = 0.5, keep_fraction: float | None = None
) -> dict:
    """The detector's verdict on each episode (first frame, last frame) scored against the episodes'
    recorded outcomes, the oracle labels: over all episodes, and under "per_task" for each task, since a
    filter keeps or drops rollouts of one task against each other. Verdicts as the learned filter gives
    them: P(success) >= `threshold`, or with `keep_fraction` the top share of each task's episodes."""
    firsts = torch.from_numpy(bank.starts)
    lasts = torch.from_numpy(bank.starts + bank.lengths - 1)
    probabilities = detector(bank.frames[firsts], bank.frames[lasts], list(bank.instructions)).numpy()
    tasks = np.array([task_of_instruction(i) for i in bank.instructions])
    predicted, actual = detector_verdicts(probabilities, tasks, threshold, keep_fraction), outcomes(bank)
    per_task = {
        task: verdict_scores(predicted[mine], actual[mine], probabilities[mine])
        for task in sorted(set(tasks))
        for mine in [tasks == task]
    }
    return verdict_scores(predicted, actual, probabilities) | {"per_task": per_task}


def verdict_scores(predicted: np.ndarray, actual: np.ndarray, probabilities: np.ndarray) -> dict:
    """Precision, recall and accuracy of success verdicts (B,) bool against the oracle's (B,) bool, and the
    AUROC of the probabilities (B,) behind them: how well they rank, whatever the cut."""
    true_positives = int((predicted & actual).sum())
    return {
        "episodes": len(actual),
        "oracle_successes": int(actual.sum()),
        "predicted_successes": int(predicted.sum()),
        "precision": true_positives / max(1, int(predicted.sum())),
        "recall": true_positives / max(1, int(actual.sum())),
        "accuracy": float((predicted == actual).mean()),
        "auroc": ranking_auroc(probabilities, actual),
    }


def detector_verdicts(
    probabilities: np.ndarray, tasks: np.ndarray, threshold: float, keep_fraction: float | None
) -> np.ndarray:
    """Which episodes the learned filter calls solved: P(success) >= `threshold`, or with `keep_fraction` that
    share of each task's episodes. probabilities, tasks: (B,) -> (B,) bool"""
    if keep_fraction is None:
        return probabilities >= threshold
    if not 0.0 < keep_fraction <= 1.0:
        raise InputError(f"keep fraction must lie in (0, 1], got {keep_fraction}")
    return top_share(probabilities, tasks, keep_fraction)


def top_share(probabilities: np.ndarray, tasks: np.ndarray, fraction: float) -> np.ndarray:
    """The `fraction` of each task's rollouts with the highest probabilities (rounded up, so at least one).
    probabilities, tasks: (B,) -> (B,) bool"""
    chosen = np.zeros(len(probabilities), dtype=bool)
    for task in set(tasks):
        mine = np.flatnonzero(tasks == task)
        chosen[mine[np.argsort(-probabilities[mine], kind="stable")[: math.ceil(fraction * len(mine))]]] = True
    return chosen


def ranking_auroc(scores: np.ndarray, actual: np.ndarray) -> float | None:
    """Chance that a random solved episode scores above a random failed one (ties count half); 0.5 is a
    coin, 1.0 a perfect ranking. None when either outcome is missing. scores, actual: (B,)"""
    solved, failed = scores[actual], scores[~actual]
    if len(solved) == 0 or len(failed) == 0:
        return None
    above = (solved[:, None] > failed[None, :]).mean()
    ties = (solved[:, None] == failed[None, :]).mean()
    return float(above + ties / 2)
