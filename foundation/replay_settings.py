"""The check every config with replay datasets shares, free of torch so configs stay light to import."""

from foundation.errors import InputError


def check_replay(replay: tuple[str, ...], replay_fraction: float, owner: str) -> None:
    """Refuses a replay share outside (0, 1) when replay datasets are given."""
    if replay and not 0.0 < replay_fraction < 1.0:
        raise InputError(f"{owner}: replay_fraction must lie in (0, 1), got {replay_fraction}")
