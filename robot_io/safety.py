"""The last check between any policy and any robot: an action leaves the project only finite, of the robot's
size and inside its bounds. A policy that produces anything else is stopped with one line naming the step and
the values, and nothing is sent."""

import numpy as np

from foundation.errors import InputError
from robot_io.types import RobotFeatures


class UnsafeActionError(InputError):
    """A policy produced an action no robot may receive (non-finite, of another size, out of bounds)."""


def checked_action(action, robot: RobotFeatures, where: str) -> np.ndarray:
    """`action` as float32 (A,) when it is safe for `robot`; `where` names the step for the message."""
    action = np.asarray(action, dtype=np.float32)
    if action.shape != (robot.action_dim,):
        raise UnsafeActionError(
            f"{where}: action of shape {action.shape}, expected ({robot.action_dim},); nothing sent"
        )
    if not np.isfinite(action).all():
        raise UnsafeActionError(
            f"{where}: non-finite action {action.tolist()}; the policy's model or inputs are broken, nothing sent"
        )
    low, high = robot.action_bounds
    if (action < low).any() or (action > high).any():
        raise UnsafeActionError(f"{where}: action {action.tolist()} outside [{low}, {high}]; nothing sent")
    return action


def check_finite_state(state, expected_dim: int) -> np.ndarray:
    """A robot state reading as float32 (S,), refused when it has another size or a non-finite value."""
    state = np.asarray(state, dtype=np.float32)
    if state.shape != (expected_dim,):
        raise InputError(f"state must have shape ({expected_dim},), got {state.shape}")
    if not np.isfinite(state).all():
        raise InputError(f"state {state.tolist()} is not finite; a sensor reading is broken, so no action is computed")
    return state
