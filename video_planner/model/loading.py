"""Loading a planner for use: from a directory or Hub id, on a device, composed with a prior when one is named.

planner = load_planner("outputs/planner/avdc11-cpu/checkpoint")                          # a VideoPlanner
planner = load_planner(path, prior="outputs/planner/mt50-prior/checkpoint", mode="ipa")  # a ComposedPlanner
"""

import dataclasses

import torch

from foundation.errors import InputError
from video_planner.model.composition import ComposedPlanner
from video_planner.model.planner import VideoPlanner
from video_planner.model.planner_source import PlannerSource
from video_planner.model.protocols import Prior


def resolve_device(device: str | None) -> torch.device:
    """`device`, or CUDA when there is one and the CPU otherwise; a device this machine lacks is refused."""
    try:
        chosen = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    except RuntimeError:
        raise InputError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if chosen.type == "cuda" and (chosen.index or 0) >= torch.cuda.device_count():
        raise InputError(f"device {device} is not here: this machine has {torch.cuda.device_count()} CUDA devices")
    if chosen.type not in ("cpu", "cuda"):
        raise InputError(f"unsupported device {device!r}; use cpu, cuda or cuda:N")
    return chosen


def load_prior(source: str, motion_adapter: str | None, in_domain: VideoPlanner) -> Prior:
    """A prior for `in_domain`, on its device: a planner directory or Hub id, or with `motion_adapter` a Stable
    Diffusion base that the AnimateDiff adapter animates (in fp16 on a GPU)."""
    device = in_domain.device
    if motion_adapter is None:
        return VideoPlanner.from_pretrained(source).to(device)
    from video_planner.model.diffusers_prior import DiffusersVideoPrior

    prior = DiffusersVideoPrior.from_pretrained(
        source,
        motion_adapter,
        torch_dtype=torch.float16 if device.type == "cuda" else None,
        image_size=in_domain.config.image_size,
        num_future_frames=in_domain.config.num_future_frames,
    )
    return prior.to(device)


def load_planner(source: PlannerSource, prior: Prior | None = None) -> VideoPlanner | ComposedPlanner:
    """The planner `source` names, on its device; composed with `prior` (already loaded) or else with the prior
    `source` names, when there is one. Loading and the composability check happen here, so a prior that fails
    to load or does not fit stops a run before it starts."""
    device = resolve_device(source.device)  # a device this machine lacks stops the run before any loading
    in_domain = VideoPlanner.from_pretrained(source.planner).to(device)
    sampling = {"sampling_steps": source.sampling_steps, "guidance_scale": source.guidance_scale}
    sampling = {field: value for field, value in sampling.items() if value is not None}
    in_domain.config = dataclasses.replace(in_domain.config, **sampling)
    if prior is None and source.prior is None:
        return in_domain
    if prior is None:
        prior = load_prior(source.prior, source.prior_motion_adapter, in_domain)
    return ComposedPlanner(in_domain, prior, **source.composition())
