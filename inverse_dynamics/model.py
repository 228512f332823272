"""The inverse-dynamics network and the `InverseDynamics` model users load and call."""

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from foundation.atomic_dir import atomic_directory
from foundation.camera_image import camera_image_to_frame
from foundation.frames import frames_to_unit
from foundation.hub import (
    load_module_weights,
    load_weights,
    push_model_directory,
    read_trained_tasks,
    require_files,
    resolve_model_directory,
    write_trained_tasks,
)
from inverse_dynamics.config import InverseDynamicsConfig
from robot_io.safety import UnsafeActionError, check_finite_state

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
# the IDM `--idm default` names: trained on AVDC-11, stored in fp16 (its README.md says how it was made)
SHIPPED_IDM = Path(__file__).parent / "default_model"


def idm_directory(path_or_repo_id: str | Path, revision: str | None = None) -> Path:
    """The local directory of an IDM directory, `default` (the shipped IDM) or Hub repo id."""
    return resolve_model_directory(path_or_repo_id, revision, "inverse-dynamics", shipped=SHIPPED_IDM)


def conv_block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.GroupNorm(8, c_out), nn.SiLU())


class FrameEncoder(nn.Module):
    """Shared by the current and the target frame: a spatial feature map that keeps where things are.
    Two coordinate channels let the convolutions read absolute positions. # (B, 3, S, S) -> (B, C, S/2^n, S/2^n)"""

    def __init__(self, channels: tuple[int, ...]):
        super().__init__()
        stages, c_in = [], 3 + 2
        for c_out in channels:
            stages.append(conv_block(c_in, c_out, stride=2))
            c_in = c_out
        self.stages = nn.Sequential(*stages, conv_block(c_in, c_in, stride=1))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, _, h, w = frames.shape
        grid = dict(device=frames.device, dtype=frames.dtype)
        ys = torch.linspace(-1, 1, h, **grid).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w, **grid).view(1, 1, 1, w).expand(b, 1, h, w)
        return self.stages(torch.cat([frames, ys, xs], dim=1))


class InverseDynamicsNet(nn.Module):
    """Normalised (frame, target frame, state) -> normalised action chunk. # -> (B, k, A)"""

    def __init__(self, config: InverseDynamicsConfig):
        super().__init__()
        self.config = config
        c = config.encoder_channels[-1]
        self.encoder = FrameEncoder(config.encoder_channels)
        self.fuse = nn.Sequential(conv_block(3 * c, c, stride=1), conv_block(c, c, stride=2))
        side = config.image_size // 2 ** (len(config.encoder_channels) + 1)
        self.head = nn.Sequential(
            nn.Linear(c * side * side + config.state_dim, config.hidden_dim),
            nn.SiLU(),
            nn.Linear(config.hidden_dim, config.hidden_dim),
            nn.SiLU(),
            nn.Linear(config.hidden_dim, config.chunk_size * config.action_dim),
        )

    def forward(self, frames: torch.Tensor, targets: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """frames, targets: (B, 3, S, S) in [-1, 1]; states: (B, S_dim) normalised -> (B, k, A)"""
        both = self.encoder(torch.cat([frames, targets]))  # (2B, C, s, s)
        now, goal = both.chunk(2)
        fused = self.fuse(torch.cat([now, goal, goal - now], dim=1)).flatten(1)  # (B, C·s'·s')
        out = self.head(torch.cat([fused, states], dim=1))
        return out.view(-1, self.config.chunk_size, self.config.action_dim)


class InverseDynamics(nn.Module):
    """The network plus the state/action normalisation it was trained with, loadable in one call.

    idm = InverseDynamics.from_pretrained("outputs/idm/avdc11/checkpoint")
    actions = idm.actions(image, state, target_frame)   # (chunk_size, action_dim) float32 in [-1, 1]
    """

    def __init__(self, config: InverseDynamicsConfig):
        super().__init__()
        self.config = config
        self.trained_tasks: tuple[str, ...] = ()  # tasks of the training data, to flag zero-shot use
        self.net = InverseDynamicsNet(config)
        self.register_buffer("state_mean", torch.zeros(config.state_dim))
        self.register_buffer("state_std", torch.ones(config.state_dim))
        self.register_buffer("action_mean", torch.zeros(config.action_dim))
        self.register_buffer("action_std", torch.ones(config.action_dim))

    def set_normalization(self, states: np.ndarray, actions: np.ndarray) -> None:
        """Per-dimension mean and std of training states (N, S) and actions (N, A); std floored at 1e-3."""
        self.state_mean.copy_(torch.from_numpy(states.mean(0)))
        self.state_std.copy_(torch.from_numpy(states.std(0)).clamp(min=1e-3))
        self.action_mean.copy_(torch.from_numpy(actions.mean(0)))
        self.action_std.copy_(torch.from_numpy(actions.std(0)).clamp(min=1e-3))

    def normalize_actions(self, actions: torch.Tensor) -> torch.Tensor:
        return (actions - self.action_mean) / self.action_std

    def forward(self, frames: torch.Tensor, targets: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """Normalised action chunks from uint8 frames. frames, targets: (B, 3, S, S) uint8; states: (B, S_dim)
        -> (B, k, A) normalised (the training target space)"""
        return self.net(frames_to_unit(frames), frames_to_unit(targets), (states - self.state_mean) / self.state_std)

    @torch.no_grad()
    def predict(self, frames: torch.Tensor, targets: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """Action chunks in the robot's units, clipped to its action bounds. # -> (B, k, A)"""
        actions = self(frames, targets, states) * self.action_std + self.action_mean
        return actions.clamp(self.config.action_low, self.config.action_high)

    def actions(self, image: np.ndarray, state: np.ndarray, target_frame: np.ndarray) -> np.ndarray:
        """The action chunk that takes the robot from `image`/`state` to where `target_frame` shows it.
        image, target_frame: (H, W, 3) uint8; state: (S,) -> (chunk_size, action_dim) float32"""
        state = check_finite_state(state, self.config.state_dim)
        size, device = self.config.image_size, self.state_mean.device
        frame = camera_image_to_frame(image, size).to(device)
        target = camera_image_to_frame(target_frame, size).to(device)
        actions = self.predict(frame, target, torch.from_numpy(state)[None].to(device))[0].cpu().numpy()
        if not np.isfinite(actions).all():
            raise UnsafeActionError(
                "the inverse-dynamics model produced non-finite actions from finite inputs: its weights or "
                "normalisation are broken; retrain it or load an intact checkpoint"
            )
        return actions

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | Path, revision: str | None = None) -> "InverseDynamics":
        directory = idm_directory(path_or_repo_id, revision)
        require_files(directory, (CONFIG_FILE, WEIGHTS_FILE), "inverse-dynamics")
        model = cls(InverseDynamicsConfig.load(directory / CONFIG_FILE))
        load_module_weights(model, load_weights(directory / WEIGHTS_FILE), directory / WEIGHTS_FILE)
        model.trained_tasks = read_trained_tasks(directory)
        return model.eval()

    def save_pretrained(self, path: str | Path) -> None:
        """Writes config.json, model.safetensors (weights and normalisation) and training_data.json (the
        tasks it was trained on) atomically."""
        with atomic_directory(Path(path)) as staging:
            self.write_files(staging)

    def write_files(self, directory: Path) -> None:
        self.config.save(directory / CONFIG_FILE)
        write_trained_tasks(directory, self.trained_tasks)
        save_file({k: v.detach().contiguous() for k, v in self.state_dict().items()}, directory / WEIGHTS_FILE)

    def push_to_hub(self, repo_id: str, *, private: bool | None = None, token: str | None = None, api=None) -> str:
        """Uploads the model directory to a Hub model repo; `api` defaults to `huggingface_hub.HfApi()`."""
        return push_model_directory(
            self.save_pretrained, repo_id, "inverse-dynamics model", private=private, token=token, api=api
        )
