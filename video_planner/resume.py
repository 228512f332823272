"""Shared rules for resuming a training run from its checkpoint's `training_state/`."""

import dataclasses
import json
from pathlib import Path

from robot_io.errors import InputError

TRAINER_STATE_FILE = "trainer_state.json"


def read_trainer_state(checkpoint_dir: Path, output: Path) -> dict:
    """The saved trainer state of the run in `output`, or a clear refusal when there is none."""
    path = checkpoint_dir / "training_state" / TRAINER_STATE_FILE
    if not path.is_file():
        raise InputError(f"nothing to resume in {output} ({path} missing); drop --resume to start")
    return json.loads(path.read_text())


def refuse_changed_config(output: Path, what: str, saved, current, resumable: frozenset[str] = frozenset()) -> None:
    """Refuses to resume when a field of a config dataclass changed, except fields that alter no step."""
    changed = [
        f.name
        for f in dataclasses.fields(current)
        if getattr(saved, f.name) != getattr(current, f.name) and f.name not in resumable
    ]
    if changed:
        raise InputError(f"cannot resume {output}: {what} {', '.join(changed)} changed since it was started")
