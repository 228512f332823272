"""Replay: the original demos mixed into a fine-tune's batches.

SAIL fine-tunes on a few dozen of the robot's own rollouts. Trained on those alone, the planner and the IDM
drift towards them (slow, hesitant motion) and away from what the demos taught; drawing a fixed share of
every batch from the demos keeps both in view, whatever the sizes of the two sets.
"""

import numpy as np
import torch


def draw_rows(own: int, replay: int, batch_size: int, replay_fraction: float, generator: torch.Generator):
    """Batch rows in an index space holding the `own` samples first, then the `replay` ones. Each row comes
    from the replay part with probability `replay_fraction`, uniformly within its part. # (B,)"""
    if replay == 0:
        return torch.randint(own, (batch_size,), generator=generator).numpy()
    from_replay = torch.rand(batch_size, generator=generator) < replay_fraction
    own_rows = torch.randint(own, (batch_size,), generator=generator)
    replay_rows = own + torch.randint(replay, (batch_size,), generator=generator)
    return torch.where(from_replay, replay_rows, own_rows).numpy()


def paced_strides(own_lengths: np.ndarray, replay_lengths: np.ndarray, stride: int) -> np.ndarray:
    """Clip strides for the own episodes that make a clip cover the same share of an episode as the demos'
    clips do on average: a rollout twice as long as the mean demo gets twice the stride, so a planner
    fine-tuned on it does not learn to imagine the task at half speed. # (E_own,)"""
    reference = float(np.mean(replay_lengths))
    return np.maximum(1, np.rint(stride * np.asarray(own_lengths) / reference)).astype(int)
