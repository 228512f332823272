"""MetaWorld task names, their natural-language instructions, and the AVDC-11 benchmark set.

Users name tasks the way papers do ("door-open"); MetaWorld's env ids carry a version suffix
("door-open-v3"). `resolve_task` accepts both and fails with the closest valid names.
"""

import difflib

from foundation.errors import InputError

MAX_EPISODE_STEPS = 500  # MetaWorld's max_path_length
MAX_RENDER_SCALE = 8  # an environment renders at most 8 times its image size (512 px for 64) before resizing

METAWORLD_VERSION_SUFFIX = "-v3"

# Cameras defined in MetaWorld v3's scene; AVDC's benchmark uses the first three corners.
CAMERAS = ("corner", "corner2", "corner3", "corner4", "topview", "behindGripper", "gripperPOV")

INSTRUCTIONS: dict[str, str] = {
    "assembly": "put the ring onto the peg",
    "basketball": "put the ball into the hoop",
    "bin-picking": "move the cube from one bin to the other",
    "box-close": "close the box with its lid",
    "button-press": "press the button",
    "button-press-topdown": "press the button from the top",
    "button-press-topdown-wall": "press the button from the top behind the wall",
    "button-press-wall": "press the button behind the wall",
    "coffee-button": "press the button on the coffee machine",
    "coffee-pull": "pull the mug away from the coffee machine",
    "coffee-push": "push the mug under the coffee machine",
    "dial-turn": "turn the dial",
    "disassemble": "take the ring off the peg",
    "door-close": "close the door",
    "door-lock": "lock the door",
    "door-open": "open the door",
    "door-unlock": "unlock the door",
    "drawer-close": "close the drawer",
    "drawer-open": "open the drawer",
    "faucet-close": "turn the faucet handle to close it",
    "faucet-open": "turn the faucet handle to open it",
    "hammer": "hammer the nail into the wall",
    "hand-insert": "put the puck into the hole",
    "handle-press": "press the handle down",
    "handle-press-side": "press the handle down from the side",
    "handle-pull": "pull the handle up",
    "handle-pull-side": "pull the handle up from the side",
    "lever-pull": "pull the lever up",
    "peg-insert-side": "insert the peg into the hole from the side",
    "peg-unplug-side": "unplug the peg from the side",
    "pick-out-of-hole": "pick the puck out of the hole",
    "pick-place": "pick up the puck and place it at the goal",
    "pick-place-wall": "pick up the puck and place it at the goal behind the wall",
    "plate-slide": "slide the plate into the goal",
    "plate-slide-back": "slide the plate back out of the goal",
    "plate-slide-back-side": "slide the plate sideways back out of the goal",
    "plate-slide-side": "slide the plate sideways into the goal",
    "push": "push the puck to the goal",
    "push-back": "pull the puck back to the goal",
    "push-wall": "push the puck to the goal around the wall",
    "reach": "reach the goal position",
    "reach-wall": "reach the goal position over the wall",
    "shelf-place": "place the block on the shelf",
    "soccer": "kick the ball into the goal",
    "stick-pull": "use the stick to pull the thermos to the goal",
    "stick-push": "use the stick to push the thermos to the goal",
    "sweep": "sweep the puck off the table",
    "sweep-into": "sweep the puck into the hole",
    "window-close": "close the window",
    "window-open": "open the window",
}

AVDC11_TASKS: tuple[str, ...] = (
    "door-open",
    "door-close",
    "basketball",
    "shelf-place",
    "button-press",
    "button-press-topdown",
    "faucet-close",
    "faucet-open",
    "handle-press",
    "hammer",
    "assembly",
)
# SAIL's unseen targets: no recipe holds demos of them
SAIL_TARGETS: tuple[str, ...] = ("button-press-wall", "drawer-close", "reach-wall", "plate-slide")
TASK_GROUPS: dict[str, tuple[str, ...]] = {
    "avdc11": AVDC11_TASKS,
    "mt50-prior": tuple(sorted(set(INSTRUCTIONS) - set(SAIL_TARGETS))),  # the MT50 prior's 46 tasks
}


def resolve_task(name: str) -> str:
    """Returns the canonical short task name ("door-open") for "door-open" or "door-open-v3"."""
    short = name.removesuffix(METAWORLD_VERSION_SUFFIX)
    if short in INSTRUCTIONS:
        return short
    close = difflib.get_close_matches(short, INSTRUCTIONS, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"valid names: {', '.join(sorted(INSTRUCTIONS))}"
    raise InputError(f"unknown MetaWorld task {name!r}; {hint}")


def validate_camera(name: str) -> str:
    """Returns `name` if MetaWorld defines that camera, else fails listing the valid ones."""
    if name not in CAMERAS:
        raise InputError(f"unknown MetaWorld camera {name!r}; valid cameras: {', '.join(CAMERAS)}")
    return name


def resolve_tasks(spec: str | list[str]) -> list[str]:
    """Expands a group name ("avdc11", "mt50-prior") or a comma-separated list (or a list) of task names into
    canonical names."""
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [n.strip() for n in names if n.strip()]
    if not names:
        raise InputError(f"no task given; name at least one MetaWorld task, or a group: {', '.join(TASK_GROUPS)}")
    if len(names) == 1 and names[0] in TASK_GROUPS:
        return list(TASK_GROUPS[names[0]])
    return [resolve_task(n) for n in names]


def env_id(task: str) -> str:
    """MetaWorld's env name for a task, e.g. "door-open-v3"."""
    return resolve_task(task) + METAWORLD_VERSION_SUFFIX


def instruction_for(task: str) -> str:
    """The natural-language instruction that conditions the planner for this task."""
    return INSTRUCTIONS[resolve_task(task)]


_TASK_OF_INSTRUCTION = {instruction: task for task, instruction in INSTRUCTIONS.items()}


def task_of_instruction(instruction: str) -> str:
    """The MetaWorld task an instruction names, or the instruction itself when it is none of ours."""
    return _TASK_OF_INSTRUCTION.get(instruction, instruction)
