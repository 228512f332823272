"""MetaWorld's scripted expert policies, looked up by task name."""

import warnings

import metaworld.policies
import numpy as np

from robot_io.metaworld_tasks import resolve_task

# The experts' proportional gains exceed the action range on purpose (the env clips); MetaWorld warns
# about it on every new call site, which says nothing a user can act on.
warnings.filterwarnings("ignore", message=r"Constant\(s\) may be too high", module="metaworld.policies")

# MetaWorld names a few policy classes differently from their tasks.
_POLICY_CLASS_OVERRIDES = {"peg-insert-side": "SawyerPegInsertionSideV3Policy"}


class ExpertPolicy:
    """A MetaWorld scripted expert that leaves its input alone: 44 of MetaWorld's policies shift object
    positions inside the observation they are given (`pos[0] -= 0.05`), which would corrupt the caller's
    recorded state and any later decision made from the same observation."""

    def __init__(self, policy):
        self._policy = policy

    def get_action(self, env_state: np.ndarray) -> np.ndarray:
        """The expert's 4-dim action for a 39-dim MetaWorld observation."""
        return self._policy.get_action(np.array(env_state, copy=True))


def expert_policy(task: str) -> ExpertPolicy:
    """The scripted expert for a task."""
    task = resolve_task(task)
    default = "Sawyer" + "".join(part.capitalize() for part in task.split("-")) + "V3Policy"
    return ExpertPolicy(getattr(metaworld.policies, _POLICY_CLASS_OVERRIDES.get(task, default))())
