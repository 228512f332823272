"""Untrained SAIL models and seconds-long SAIL settings, shared by the SAIL tests."""

import json
from dataclasses import replace
from pathlib import Path

import torch

from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.model import InverseDynamics
from video_planner.model.planner import VideoPlanner
from video_planner.sail.settings import SailSettings

TASKS = ("button-press-topdown", "door-open")


def save_untrained_models(root: Path, text_encoder, planner_config) -> dict[str, str]:
    """Untrained in-domain planner, prior (same autoencoder), foreign prior and IDM, saved as checkpoints."""
    torch.manual_seed(0)
    in_domain = VideoPlanner(planner_config, text_encoder=text_encoder)
    torch.manual_seed(1)
    prior = VideoPlanner(planner_config, text_encoder=text_encoder)
    prior.autoencoder.load_state_dict(in_domain.autoencoder.state_dict())
    foreign = VideoPlanner(planner_config, text_encoder=text_encoder)  # its own autoencoder
    idm = InverseDynamics(InverseDynamicsConfig(image_size=32, chunk_size=4, encoder_channels=(16, 32), hidden_dim=64))
    saved = {"planner": in_domain, "prior": prior, "foreign_prior": foreign, "idm": idm}
    for name, model in saved.items():
        model.save_pretrained(root / name)
    return {name: str(root / name) for name in saved}


def sail_settings(models, **changes) -> SailSettings:
    base = SailSettings(
        tasks=TASKS[:1],
        planner=models["planner"],
        idm=models["idm"],
        prior=models["prior"],
        mode="ipa",
        iterations=1,
        rollouts=2,
        eval_seeds=1,
        cameras=("corner",),
        filter="none",
        finetune="both",
        planner_steps=2,
        idm_steps=2,
        warmup_steps=1,
        max_episode_steps=12,
        replan_every=8,
    )
    return replace(base, **changes)


def result_rows(eval_dir: Path) -> list[dict]:
    return json.loads((eval_dir / "results.json").read_text())["episodes"]
