"""Reading a planner training run's committed state, shared by the training tests."""

import json
from pathlib import Path


def trainer_state(output: Path) -> dict | None:
    try:
        return json.loads((output / "checkpoint" / "training_state" / "trainer_state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
