"""The planner's seams, declared once: what a plan is, what a planner is, and what a prior must offer.

    Planner       plan(image, instruction, *, seed, steps, guidance) -> VideoPlan
                  `VideoPlanner`, `ComposedPlanner` (an in-domain planner with a prior), `OraclePlanner` (expert
                  frames), `PlannerClient` (a planning server)
    BatchPlanner  a Planner with plan_batch([PlanRequest, ...]) -> [[VideoPlan, ...], ...]
                  `VideoPlanner`, `ComposedPlanner`
    Prior         what score composition needs of a second model: its frames and noise schedule (`config`), its
                  latent space (`autoencoder`, `latent_shift`, `latent_scale`), its `text_encoder`, its `branches()`
                  `VideoPlanner`, `DiffusersVideoPrior` (AnimateDiff)

The Agent, evaluation and SAIL take any `Planner`; `ComposedPlanner` takes any `Prior`.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch


@dataclass(frozen=True)
class VideoPlan:
    frames: np.ndarray  # (K, H, W, 3) uint8, the future frames after the conditioning image
    context_frame: np.ndarray  # (H, W, 3) uint8, the conditioning image at the planner's resolution
    instruction: str
    sampler: str
    steps: int
    guidance: float
    seed: int | None
    latency_s: float  # wall time of the whole plan call, shared by all samples of one call


@dataclass(frozen=True)
class PlanRequest:
    """One request of a batch (`plan_batch`): None leaves `steps` and `guidance` to the planner, and `seed` to
    torch's global generator."""

    image: np.ndarray  # (H, W, 3) uint8, square
    instruction: str
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = None
    num_samples: int = 1


class PlanShape(Protocol):
    """What a plan's consumer (the Agent) reads of a planner's config."""

    @property
    def image_size(self) -> int: ...  # plan frames are image_size × image_size

    @property
    def num_future_frames(self) -> int: ...  # K

    @property
    def frame_stride(self) -> int: ...  # env steps between two planned frames


@runtime_checkable
class Planner(Protocol):
    """Camera image + instruction -> the next K frames of the task being done."""

    @property
    def config(self) -> PlanShape: ...

    def plan(
        self,
        image: np.ndarray,
        instruction: str,
        *,
        seed: int | None = None,
        steps: int | None = None,
        guidance: float | None = None,
    ) -> VideoPlan:
        """`image`: (H, W, 3) uint8, square. None leaves `steps` and `guidance` to the planner."""
        ...


@runtime_checkable
class SamplingPlanner(Planner, Protocol):
    """A planner that draws several plans of one request in one call (the trained and composed planners batch
    them; the planning API's client asks its server for them)."""

    def plan_samples(self, image: np.ndarray, instruction: str, num_samples: int, *, seed: int | None = None):
        """`num_samples` plans (a list of `VideoPlan`) of one request; `seed` fixes them all."""
        ...


@runtime_checkable
class BatchPlanner(Planner, Protocol):
    """A planner that also answers many requests in one call (what a planning server needs): requests that
    share steps and guidance share a denoiser batch, and each request's plans depend only on its own seed."""

    def plan_batch(self, requests: Sequence[PlanRequest]) -> list[list[VideoPlan]]:
        """Per request, in order, its `num_samples` plans."""
        ...


class PriorShape(Protocol):
    """The config fields a composition requires to equal the in-domain planner's (`composition.SHARED_FIELDS`)."""

    @property
    def image_size(self) -> int: ...

    @property
    def num_future_frames(self) -> int: ...

    @property
    def num_train_timesteps(self) -> int: ...

    @property
    def beta_schedule(self) -> str: ...

    @property
    def beta_start(self) -> float: ...

    @property
    def beta_end(self) -> float: ...

    @property
    def prediction_type(self) -> str: ...


class Prior(Protocol):
    """A second denoiser composed with an in-domain planner's at every sampling step. Check an object with
    `missing_members(obj, Prior)`: priors are torch modules, whose submodules and buffers `isinstance` on a
    runtime protocol does not see."""

    autoencoder: torch.nn.Module  # its encoder defines the latent space; equal weights mean a shared space
    latent_shift: torch.Tensor  # (C,)
    latent_scale: torch.Tensor  # (C,)
    text_encoder: Callable[[list[str]], tuple[torch.Tensor, torch.Tensor]]  # -> embeddings (B, L, D), mask (B, L)

    def branches(
        self, noisy, timestep, first, text, mask, *, unconditional: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The instruction's prediction and, when `unconditional`, the null one.
        noisy: (B, K, C, h, w), first: (B, C, h, w), text: (B, L, D), mask: (B, L) -> (B, K, C, h, w) each"""
        ...

    @property
    def config(self) -> PriorShape: ...


def missing_members(obj: object, protocol: type) -> list[str]:
    """The members of `protocol` that `obj` lacks, by ordinary attribute lookup."""
    return sorted(name for name in protocol.__protocol_attrs__ if not hasattr(obj, name))
