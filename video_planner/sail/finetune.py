"""SAIL's fine-tune step: the previous iteration's planner and/or IDM trained further on every rollout
kept so far. Each run lives in its iteration's directory and resumes from its last checkpoint after a
crash; `models.json`, written last, names the iteration's models and marks the step done."""

import json
from pathlib import Path

from foundation.atomic_dir import recover_directory, write_text_atomic
from foundation.config_io import read_json
from inverse_dynamics.model import InverseDynamics, idm_directory
from inverse_dynamics.train import InverseDynamicsTrainer
from inverse_dynamics.train_config import IDMTrainConfig
from robot_io.dataset_io import open_dataset
from video_planner.model.checkpoint import planner_directory
from video_planner.model.config import PlannerConfig
from video_planner.sail.settings import SelfTrainingSettings
from video_planner.training.train import PlannerTrainer
from video_planner.training.train_config import TrainConfig

MODELS_FILE = "models.json"
CHECKPOINTS = 4  # per fine-tuning run, so a crash loses at most a quarter of it


def starting_models(settings: SelfTrainingSettings) -> dict:
    """The planner (`settings.planner`) and IDM that fine-tuning starts from, as local directories. Every replay
    dataset is opened too: a missing or corrupt one stops the run before anything is written."""
    for dataset in settings.replay:
        open_dataset(dataset)
    return {
        "planner": str(planner_directory(settings.planner)),
        "idm": str(idm_directory(settings.idm)),
    }


def read_models(iteration_dir: Path) -> dict | None:
    path = iteration_dir / MODELS_FILE
    return read_json(path, keys={}) if path.is_file() else None


def write_models(iteration_dir: Path, models: dict) -> None:
    iteration_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(iteration_dir / MODELS_FILE, json.dumps(models, indent=2))


def fine_tune(
    settings: SelfTrainingSettings, previous: dict, kept: list[str], iteration_dir: Path, show_progress: bool
):
    """The iteration's models: `previous` ones fine-tuned on the `kept` datasets (unchanged when none)."""
    models = read_models(iteration_dir)
    if models is not None:
        return models
    models = dict(previous, finetuned_on=kept)
    if kept and settings.fine_tunes("planner"):
        models["planner"] = str(_fine_tune_planner(settings, previous["planner"], kept, iteration_dir, show_progress))
    if kept and settings.fine_tunes("idm"):
        models["idm"] = str(_fine_tune_idm(settings, previous["idm"], kept, iteration_dir, show_progress))
    write_models(iteration_dir, models)
    return models


def _train(trainer_cls, model_config, train_config, run: Path, show_progress: bool) -> Path:
    """Starts the run, or resumes it from its last checkpoint (a swap cut short by a crash is settled first)."""
    recover_directory(run / "checkpoint")
    resume = (run / "checkpoint").is_dir()
    return trainer_cls(model_config, train_config, run, resume=resume, show_progress=show_progress).run()


def _schedule(steps: int, settings: SelfTrainingSettings) -> dict:
    return {"steps": steps, "warmup_steps": settings.warmup_steps, "checkpoint_every": max(1, steps // CHECKPOINTS)}


def _fine_tune_planner(settings, start: str, kept: list[str], iteration_dir: Path, show_progress: bool) -> Path:
    schedule = _schedule(settings.planner_steps, settings)
    train_config = TrainConfig(
        datasets=tuple(kept),
        replay=settings.replay,
        replay_fraction=settings.replay_fraction,
        match_replay_pace=settings.match_replay_pace,
        learning_rate=settings.planner_learning_rate,
        sample_every=settings.planner_steps,
        init_from=start,
        finetune=True,
        **schedule,
    )
    config = PlannerConfig.load(Path(start) / "config.json")
    return _train(PlannerTrainer, config, train_config, iteration_dir / "planner", show_progress)


def _fine_tune_idm(settings, start: str, kept: list[str], iteration_dir: Path, show_progress: bool) -> Path:
    schedule = _schedule(settings.idm_steps, settings)
    train_config = IDMTrainConfig(
        datasets=tuple(kept),
        replay=settings.replay,
        replay_fraction=settings.replay_fraction,
        learning_rate=settings.idm_learning_rate,
        init_from=start,
        **schedule,
    )
    config = InverseDynamics.from_pretrained(start).config
    return _train(InverseDynamicsTrainer, config, train_config, iteration_dir / "idm", show_progress)
