"""SAIL's fine-tune step: the previous iteration's planner and/or IDM trained further on every rollout
kept so far. Each run lives in its iteration's directory and resumes from its last checkpoint after a
crash; `models.json`, written last, names the iteration's models and marks the step done."""

import json
from pathlib import Path

from inverse_dynamics.model import InverseDynamics
from inverse_dynamics.train import InverseDynamicsTrainer
from inverse_dynamics.train_config import IDMTrainConfig
from robot_io.atomic_dir import recover_directory, write_text_atomic
from video_planner.config import PlannerConfig
from video_planner.sail.settings import SailSettings
from video_planner.train import PlannerTrainer
from video_planner.train_config import TrainConfig

MODELS_FILE = "models.json"
CHECKPOINTS_PER_RUN = 4  # so a crash inside fine-tuning loses at most a quarter of it


def read_models(iteration_dir: Path) -> dict | None:
    path = iteration_dir / MODELS_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def write_models(iteration_dir: Path, models: dict) -> None:
    iteration_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(iteration_dir / MODELS_FILE, json.dumps(models, indent=2))


def fine_tune(settings: SailSettings, previous: dict, kept: list[str], iteration_dir: Path, show_progress: bool):
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


def _resuming(run: Path) -> bool:
    checkpoint = run / "checkpoint"
    recover_directory(checkpoint)
    return checkpoint.is_dir()


def _fine_tune_planner(settings, start: str, kept: list[str], iteration_dir: Path, show_progress: bool) -> Path:
    run = iteration_dir / "planner"
    steps = settings.planner_steps
    train_config = TrainConfig(
        datasets=tuple(kept),
        steps=steps,
        learning_rate=settings.planner_learning_rate,
        warmup_steps=settings.warmup_steps,
        checkpoint_every=max(1, steps // CHECKPOINTS_PER_RUN),
        sample_every=steps,
        init_from=start,
        finetune=True,
    )
    config = PlannerConfig.load(Path(start) / "config.json")
    trainer = PlannerTrainer(config, train_config, run, resume=_resuming(run), show_progress=show_progress)
    return trainer.run()


def _fine_tune_idm(settings, start: str, kept: list[str], iteration_dir: Path, show_progress: bool) -> Path:
    run = iteration_dir / "idm"
    steps = settings.idm_steps
    train_config = IDMTrainConfig(
        datasets=tuple(kept),
        steps=steps,
        learning_rate=settings.idm_learning_rate,
        warmup_steps=settings.warmup_steps,
        checkpoint_every=max(1, steps // CHECKPOINTS_PER_RUN),
        init_from=start,
    )
    config = InverseDynamics.from_pretrained(start).config
    trainer = InverseDynamicsTrainer(config, train_config, run, resume=_resuming(run), show_progress=show_progress)
    return trainer.run()
