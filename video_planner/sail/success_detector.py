"""A learned success filter for SAIL: did the episode that began at one frame and ended at another do
what the instruction asked? No simulator oracle and no VLM service are needed once it is trained.

    detector = SuccessDetector.from_pretrained("outputs/success/avdc11")
    p = detector.probabilities(first_frames, last_frames, instructions)    # (B,) in [0, 1]

Each member net sees the first and the last frame through one shared conv encoder (the inverse-dynamics one,
with coordinate channels), fuses them with their difference, and lets the instruction (mean-pooled MiniLM
tokens) scale the fused channels (FiLM), so the same change can count for one instruction and not another.
A detector is an ensemble of `ensemble_size` such nets trained alone from different seeds; its P(success) is
their mean, whose ranking of unseen tasks' rollouts moves less with the seed than one net's does.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from foundation.atomic_dir import atomic_directory
from foundation.camera_image import camera_image_to_frame
from foundation.config_io import VersionedConfig
from foundation.errors import InputError
from foundation.frames import frames_to_unit
from foundation.hub import (
    load_module_weights,
    load_weights,
    read_trained_tasks,
    require_files,
    resolve_model_directory,
    write_trained_tasks,
)
from inverse_dynamics.model import FrameEncoder, conv_block
from video_planner.model.config import TextEncoderConfig
from video_planner.model.text_encoder import TextEncoder

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"


@dataclass(frozen=True)
class SuccessDetectorConfig(VersionedConfig):
    CURRENT_VERSION: ClassVar[int] = 2  # 2: weights of several member nets

    image_size: int = 64
    encoder_channels: tuple[int, ...] = (32, 64, 128)  # stride-2 conv stages, shared by both frames
    hidden_dim: int = 256
    ensemble_size: int = 1  # member nets, each trained alone from its own seed
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    config_version: int = CURRENT_VERSION

    def __post_init__(self):
        if self.ensemble_size < 1:
            raise InputError(f"success detector: ensemble_size must be >= 1, got {self.ensemble_size}")
        if self.image_size % 2 ** (len(self.encoder_channels) + 1):
            raise InputError(
                f"success detector: image_size {self.image_size} must be divisible by "
                f"{2 ** (len(self.encoder_channels) + 1)} for {len(self.encoder_channels)} encoder stages"
            )


class SuccessNet(nn.Module):
    """(first frame, last frame, instruction vector) -> success logit. # (B, 3, S, S) x2, (B, D) -> (B,)"""

    def __init__(self, config: SuccessDetectorConfig, text_dim: int):
        super().__init__()
        c = config.encoder_channels[-1]
        side = config.image_size // 2 ** (len(config.encoder_channels) + 1)
        self.encoder = FrameEncoder(config.encoder_channels)
        self.fuse = conv_block(3 * c, c, stride=2)
        self.film = nn.Linear(text_dim, c)
        self.head = nn.Sequential(
            nn.Linear(c * side * side, config.hidden_dim), nn.SiLU(), nn.Linear(config.hidden_dim, 1)
        )

    def forward(self, first: torch.Tensor, last: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        start, end = self.encoder(torch.cat([first, last])).chunk(2)  # (B, C, s, s) each
        fused = self.fuse(torch.cat([start, end, end - start], dim=1))  # (B, C, s/2, s/2)
        fused = fused * (1 + self.film(text)[:, :, None, None])
        return self.head(fused.flatten(1)).squeeze(1)


class SuccessDetector(nn.Module):
    def __init__(self, config: SuccessDetectorConfig, text_encoder: TextEncoder | None = None):
        super().__init__()
        self.config = config
        self.text_encoder = text_encoder or TextEncoder(config.text_encoder)
        self.members = nn.ModuleList(SuccessNet(config, self.text_encoder.dim) for _ in range(config.ensemble_size))
        self.trained_tasks: tuple[str, ...] = ()

    def instruction_vectors(self, instructions: list[str]) -> torch.Tensor:
        """Mean of each instruction's token embeddings. # -> (B, D)"""
        tokens, mask = self.text_encoder(instructions)  # (B, L, D), (B, L)
        weights = mask.float()[:, :, None]
        return (tokens * weights).sum(1) / weights.sum(1)

    def forward(self, first: torch.Tensor, last: torch.Tensor, instructions: list[str]) -> torch.Tensor:
        """P(success), the members' mean, from uint8 frames. first, last: (B, 3, S, S) uint8 -> (B,)"""
        first, last, text = frames_to_unit(first), frames_to_unit(last), self.instruction_vectors(instructions)
        return torch.stack([torch.sigmoid(net(first, last, text)) for net in self.members]).mean(0)

    @torch.no_grad()
    def probabilities(self, first_images, last_images, instructions: list[str]) -> np.ndarray:
        """P(success) per episode. first_images, last_images: sequences of (H, W, 3) uint8 camera images."""
        if not (len(first_images) == len(last_images) == len(instructions)):
            raise InputError("give one first image, one last image and one instruction per episode")
        size = self.config.image_size
        first = torch.cat([camera_image_to_frame(image, size) for image in first_images])
        last = torch.cat([camera_image_to_frame(image, size) for image in last_images])
        return self(first, last, list(instructions)).numpy()

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | Path, revision: str | None = None) -> "SuccessDetector":
        directory = resolve_model_directory(path_or_repo_id, revision, "success-detector")
        require_files(directory, (CONFIG_FILE, WEIGHTS_FILE), "success-detector")
        detector = cls(SuccessDetectorConfig.load(directory / CONFIG_FILE))
        load_module_weights(detector.members, load_weights(directory / WEIGHTS_FILE), directory / WEIGHTS_FILE)
        detector.trained_tasks = read_trained_tasks(directory)
        return detector.eval()

    def save_pretrained(self, path: str | Path) -> None:
        """Writes config.json, model.safetensors and training_data.json (the tasks trained on) atomically."""
        with atomic_directory(Path(path)) as staging:
            self.config.save(staging / CONFIG_FILE)
            save_file({k: v.contiguous() for k, v in self.members.state_dict().items()}, staging / WEIGHTS_FILE)
            write_trained_tasks(staging, self.trained_tasks)
