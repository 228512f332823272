"""The planner directory: what `VideoPlanner.from_pretrained` reads and `save_pretrained` writes.

    config.json          PlannerConfig (with config_version)
    model.safetensors    denoiser weights (the EMA weights when written by the trainer)
    normalization.json   per-channel latent shift and scale
    autoencoder/         the in-domain AutoencoderKL (absent when the config names a pretrained one)
    training_state/      only in training checkpoints: raw weights, EMA, optimizer, step (see train.py)

Weights are safetensors and configs JSON; nothing is pickled.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

from foundation.atomic_dir import atomic_directory
from foundation.config_io import read_json
from foundation.errors import InputError
from foundation.hub import load_weights, read_trained_tasks, require_files, resolve_model_directory, write_trained_tasks
from video_planner.model.config import PlannerConfig

# the planner `--planner default` names: trained on AVDC-11, stored in fp16 (its README.md says how it was made)
SHIPPED_PLANNER = Path(__file__).parents[1] / "default_model"
CONFIG_FILE, WEIGHTS_FILE, NORMALIZATION_FILE, AUTOENCODER_DIR = (
    "config.json",
    "model.safetensors",
    "normalization.json",
    "autoencoder",
)


@dataclass
class PlannerFiles:
    config: PlannerConfig
    denoiser_state: dict[str, torch.Tensor]
    autoencoder_dir: Path | None
    latent_shift: torch.Tensor  # (C,)
    latent_scale: torch.Tensor  # (C,)
    trained_tasks: tuple[str, ...] = ()  # the tasks of its training data (and of the planner it started from)


def write_planner_files(
    directory: Path, config, denoiser_state, autoencoder, latent_shift, latent_scale, trained_tasks=()
) -> None:
    """Writes the planner files into an existing directory (callers make it atomic)."""
    config.save(directory / CONFIG_FILE)
    write_trained_tasks(directory, trained_tasks)
    save_file({k: v.detach().contiguous() for k, v in denoiser_state.items()}, directory / WEIGHTS_FILE)
    normalization = {"latent_shift": latent_shift.tolist(), "latent_scale": latent_scale.tolist()}
    (directory / NORMALIZATION_FILE).write_text(json.dumps(normalization, indent=2))
    if autoencoder is not None:
        autoencoder.save_pretrained(directory / AUTOENCODER_DIR)


def save_planner_files(path: Path, *args) -> None:
    """Writes the planner files so that `path` holds either the old or the complete new checkpoint."""
    with atomic_directory(path) as staging:
        write_planner_files(staging, *args)


def planner_directory(path_or_repo_id: str | Path, revision: str | None = None) -> Path:
    """The local directory of a planner directory, `default` (the shipped planner) or Hub repo id."""
    return resolve_model_directory(path_or_repo_id, revision, "planner", shipped=SHIPPED_PLANNER)


def load_planner_files(path_or_repo_id: str | Path, revision: str | None = None) -> PlannerFiles:
    directory = planner_directory(path_or_repo_id, revision)
    require_files(directory, (CONFIG_FILE, WEIGHTS_FILE, NORMALIZATION_FILE), "planner")
    config = PlannerConfig.load(directory / CONFIG_FILE)
    autoencoder_dir = None
    if not config.autoencoder.pretrained:
        autoencoder_dir = directory / AUTOENCODER_DIR
        if not (autoencoder_dir / "config.json").is_file():
            raise InputError(f"planner checkpoint {directory} is missing {AUTOENCODER_DIR}/; point at a complete one")
    normalization = read_json(directory / NORMALIZATION_FILE)
    return PlannerFiles(
        config=config,
        denoiser_state=load_weights(directory / WEIGHTS_FILE),
        autoencoder_dir=autoencoder_dir,
        latent_shift=torch.tensor(normalization["latent_shift"]),
        latent_scale=torch.tensor(normalization["latent_scale"]),
        trained_tasks=read_trained_tasks(directory),
    )


def load_autoencoder(directory: Path):
    """The in-domain autoencoder saved in a planner directory, refused in one line when its files are damaged."""
    from diffusers import AutoencoderKL
    from safetensors import SafetensorError

    try:
        return AutoencoderKL.from_pretrained(directory)
    except (OSError, ValueError, SafetensorError) as err:  # missing files, a broken config, damaged weights
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"autoencoder in {directory} is damaged ({reason}); restore or retrain the planner") from None
