"""A learned success filter for SAIL: did the episode that began at one frame and ended at another do
what the instruction asked? No simulator oracle and no VLM service are needed once it is trained.

    detector = SuccessDetector.from_pretrained("outputs/success/avdc11")
    p = detector.probabilities(first_frames, last_frames, instructions)    # (B,) in [0, 1]

It sees the first and the last frame through one shared conv encoder (the inverse-dynamics one, with
coordinate channels), fuses them with their difference, and lets the instruction (mean-pooled MiniLM
tokens) scale the fused channels (FiLM), so the same change can count for one instruction and not another.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from inverse_dynamics.model import FrameEncoder, conv_block
from robot_io.atomic_dir import atomic_directory
from robot_io.config_io import VersionedConfig
from robot_io.errors import InputError
from video_planner.camera_image import camera_image_to_frame
from video_planner.hub import read_trained_tasks, require_files, resolve_model_directory, write_trained_tasks
from video_planner.text_encoder import TextEncoder, TextEncoderConfig

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"


@dataclass(frozen=True)
class SuccessDetectorConfig(VersionedConfig):
    CURRENT_VERSION: ClassVar[int] = 1

    image_size: int = 64
    encoder_channels: tuple[int, ...] = (32, 64, 128)  # stride-2 conv stages, shared by both frames
    hidden_dim: int = 256
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    config_version: int = CURRENT_VERSION

    def __post_init__(self):
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
        self.net = SuccessNet(config, self.text_encoder.dim)
        self.trained_tasks: tuple[str, ...] = ()

    def instruction_vectors(self, instructions: list[str]) -> torch.Tensor:
        """Mean of each instruction's token embeddings. # -> (B, D)"""
        tokens, mask = self.text_encoder(instructions)  # (B, L, D), (B, L)
        weights = mask.float()[:, :, None]
        return (tokens * weights).sum(1) / weights.sum(1)

    def forward(self, first: torch.Tensor, last: torch.Tensor, instructions: list[str]) -> torch.Tensor:
        """Success logits from uint8 frames. first, last: (B, 3, S, S) uint8 -> (B,)"""
        to_unit = lambda x: x.float() / 127.5 - 1.0  # noqa: E731
        return self.net(to_unit(first), to_unit(last), self.instruction_vectors(instructions))

    @torch.no_grad()
    def probabilities(self, first_images, last_images, instructions: list[str]) -> np.ndarray:
        """P(success) per episode. first_images, last_images: sequences of (H, W, 3) uint8 camera images."""
        if not (len(first_images) == len(last_images) == len(instructions)):
            raise InputError("give one first image, one last image and one instruction per episode")
        size = self.config.image_size
        first = torch.cat([camera_image_to_frame(image, size) for image in first_images])
        last = torch.cat([camera_image_to_frame(image, size) for image in last_images])
        return torch.sigmoid(self(first, last, list(instructions))).numpy()

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | Path, revision: str | None = None) -> "SuccessDetector":
        directory = resolve_model_directory(path_or_repo_id, revision, "success-detector")
        require_files(directory, (CONFIG_FILE, WEIGHTS_FILE), "success-detector")
        detector = cls(SuccessDetectorConfig.load(directory / CONFIG_FILE))
        detector.net.load_state_dict(load_file(directory / WEIGHTS_FILE))
        detector.trained_tasks = read_trained_tasks(directory)
        return detector.eval()

    def save_pretrained(self, path: str | Path) -> None:
        """Writes config.json, model.safetensors and training_data.json (the tasks trained on) atomically."""
        with atomic_directory(Path(path)) as staging:
            self.config.save(staging / CONFIG_FILE)
            save_file({k: v.contiguous() for k, v in self.net.state_dict().items()}, staging / WEIGHTS_FILE)
            write_trained_tasks(staging, self.trained_tasks)
