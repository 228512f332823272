"""MetaWorld's scripted expert policies, looked up by task name."""

import warnings

import metaworld.policies

from robot_io.metaworld_tasks import resolve_task

# The experts' proportional gains exceed the action range on purpose (the env clips); MetaWorld warns
# about it on every new call site, which says nothing a user can act on.
warnings.filterwarnings("ignore", message=r"Constant\(s\) may be too high", module="metaworld.policies")

# MetaWorld names a few policy classes differently from their tasks.
_POLICY_CLASS_OVERRIDES = {"peg-insert-side": "SawyerPegInsertionSideV3Policy"}


def expert_policy(task: str):
    """The scripted expert for a task: an object whose `get_action(env_state)` returns a 4-dim action."""
    task = resolve_task(task)
    default = "Sawyer" + "".join(part.capitalize() for part in task.split("-")) + "V3Policy"
    return getattr(metaworld.policies, _POLICY_CLASS_OVERRIDES.get(task, default))()
