"""Inverse-dynamics training samples: the `ActionChunks` view of the datasets' frames, checked against the model."""

from foundation.errors import InputError
from inverse_dynamics.config import InverseDynamicsConfig
from robot_io.frame_bank import ActionChunks, FrameBank


def load_chunk_samples(
    datasets, config: InverseDynamicsConfig, show_progress: bool = True, replay=(), camera_key: str | None = None
) -> ActionChunks:
    """Every chunk of the datasets, then of the `replay` ones, decoded once at the model's image size from
    `camera_key` (`FrameBank.load`); refuses datasets whose state or action dimensions are not the model's."""
    bank, own_episodes = FrameBank.load_with_replay(datasets, replay, config.image_size, show_progress, camera_key)
    if bank.states.shape[1] != config.state_dim or bank.actions.shape[1] != config.action_dim:
        raise InputError(
            f"the datasets hold states of dim {bank.states.shape[1]} and actions of dim {bank.actions.shape[1]}; "
            f"the inverse-dynamics model expects {config.state_dim} and {config.action_dim}"
        )
    return ActionChunks(bank, config.chunk_size, own_episodes=own_episodes)
