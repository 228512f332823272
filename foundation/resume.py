"""Shared rules for starting or resuming a training run whose checkpoint holds `training_state/`."""

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from foundation.atomic_dir import recover_directory
from foundation.config_io import VersionedConfig, dataclass_from_dict, read_json
from foundation.errors import InputError

TRAINER_STATE_FILE = "trainer_state.json"


@dataclass(frozen=True)
class SavedConfig:
    """One config of a run: its key in the trainer state, a name for messages, the current value, and the
    fields a resumed run may change (they alter no training step)."""

    key: str
    what: str
    current: object
    resumable: frozenset[str] = frozenset()

    def read(self, values: dict, source: str):
        """The saved config as the current one's type (versioned configs check their version)."""
        cls = type(self.current)
        if issubclass(cls, VersionedConfig):
            return cls.from_dict(values, source)
        return dataclass_from_dict(cls, values, source)


def start_or_resume(checkpoint_dir: Path, output: Path, resume: bool, configs: list[SavedConfig]) -> dict | None:
    """Refuses a fresh start over an existing run and a resume whose configs changed; returns the saved
    trainer state when resuming. A checkpoint swap cut short by a crash is finished or undone first."""
    recover_directory(checkpoint_dir)
    if not resume:
        if checkpoint_dir.exists():
            raise InputError(f"{output} already holds a training run; pass --resume or choose another --output")
        return None
    path = checkpoint_dir / "training_state" / TRAINER_STATE_FILE
    if not path.is_file():
        raise InputError(f"nothing to resume in {output} ({path} missing); drop --resume to start")
    saved = read_json(path, {config.key: dict for config in configs})
    for config in configs:
        previous = config.read(saved[config.key], f"{path} [{config.key}]")
        changed = [
            f.name
            for f in dataclasses.fields(config.current)
            if getattr(previous, f.name) != getattr(config.current, f.name) and f.name not in config.resumable
        ]
        if changed:
            raise InputError(f"cannot resume {output}: {config.what} {', '.join(changed)} changed since it was started")
    return saved
