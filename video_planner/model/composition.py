"""Score composition of an in-domain planner with a video prior, as in Video Adapter (PA) and Adapt2Act (IPA).

    composed = ComposedPlanner(in_domain, prior, mode="ipa")      # α = 2.5, γ = 0.5 by default
    plan = composed.plan(image, "open the door", seed=0)          # a Planner, like in_domain itself

With ε_θ the in-domain model, ε_p the prior, ∅ the null instruction, α the guidance and γ the prior strength:

    pa:  ε̃ = ε_θ(∅) + α·[ε_θ(text) + γ·ε_p(text) − ε_θ(∅)]
    ipa: ε̃ = ε_p(∅) + α·[ε_p(text) + γ·ε_θ(text) − ε_p(∅)]

The formula is applied to what both models predict (ε or v; they must predict the same). For v-prediction
this equals the ε formula whenever the weights sum to one (γ = 0), and otherwise differs from it by
(αγ)·σ_t·x_t: our cosine schedule with trailing timesteps starts at ᾱ ≈ 0, where turning a composed ε back
into a clean-latent estimate divides by √ᾱ and explodes, while the composed v stays finite.
"""

from collections.abc import Sequence

import numpy as np
import torch

from foundation.errors import InputError
from video_planner.model.planner import VideoPlanner
from video_planner.model.planner_source import MODES
from video_planner.model.protocols import PlanRequest, Prior, VideoPlan, missing_members

DEFAULT_PRIOR_STRENGTH = {"pa": 0.1, "ipa": 0.5}
DEFAULT_GUIDANCE = 2.5
# Config fields that fix the frames and the noise schedule: composed scores are only meaningful if equal.
SHARED_FIELDS = (
    "image_size",
    "num_future_frames",
    "num_train_timesteps",
    "beta_schedule",
    "beta_start",
    "beta_end",
    "prediction_type",
)


def _encoder_weights(autoencoder) -> dict[str, torch.Tensor]:
    """The weights that map frames to latents: equal encoders mean a shared latent space, whatever the decoders."""
    return {k: v for k, v in autoencoder.state_dict().items() if k.startswith(("encoder.", "quant_conv."))}


def _same_weights(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal tensors, compared at the lower of their two precisions (a prior may be loaded in fp16)."""
    if a.shape != b.shape:
        return False
    low = a.dtype if a.element_size() <= b.element_size() else b.dtype
    return torch.equal(a.detach().cpu().to(low), b.detach().cpu().to(low))


def check_composable(in_domain: VideoPlanner, prior: Prior) -> None:
    """Refuses a prior that is not a `Prior`, or has another latent space or noise schedule, naming the first
    difference."""
    missing = missing_members(prior, Prior)
    if missing:
        raise InputError(
            f"cannot compose with a {type(prior).__name__}: it has no {', '.join(missing)}; a prior offers what "
            "video_planner.model.protocols.Prior lists"
        )
    for field in SHARED_FIELDS:
        ours, theirs = getattr(in_domain.config, field), getattr(prior.config, field)
        if ours != theirs:
            raise InputError(
                f"cannot compose: the prior's {field} is {theirs!r} but the in-domain planner's is {ours!r}; "
                "both must share latent space and noise schedule"
            )
    ours, theirs = _encoder_weights(in_domain.autoencoder), _encoder_weights(prior.autoencoder)
    if not ours or ours.keys() != theirs.keys():
        raise InputError(
            "cannot compose: the prior's autoencoder encoder has other layers than the in-domain planner's"
        )
    differences = [
        ("latent normalisation shift", in_domain.latent_shift, prior.latent_shift),
        ("latent normalisation scale", in_domain.latent_scale, prior.latent_scale),
        *((f"autoencoder weight {key}", value, theirs[key]) for key, value in ours.items()),
    ]
    for name, a, b in differences:
        if not _same_weights(a, b):
            raise InputError(
                f"cannot compose: the prior's {name} differs from the in-domain planner's, so their latents mean "
                "different things; train the in-domain planner in the prior's latents (--init-from a planner prior, "
                "or the gpu-animatediff preset for an AnimateDiff prior)"
            )


class ComposedPlanner:
    """A planner whose every denoising step composes an in-domain planner's prediction with a prior's.

    It owns both models and plans in the in-domain planner's frames, latent space and sampler; `guidance` is
    the composition's α (a `plan(guidance=...)` replaces it for one call).
    """

    def __init__(
        self,
        in_domain: VideoPlanner,
        prior: Prior,
        mode: str = "pa",
        guidance: float = DEFAULT_GUIDANCE,
        prior_strength: float | None = None,
    ):
        if mode not in MODES:
            raise InputError(f"unknown composition mode {mode!r}; valid: {', '.join(MODES)}")
        check_composable(in_domain, prior)
        self.in_domain, self.prior, self.mode, self.guidance = in_domain, prior, mode, guidance
        self.prior_strength = DEFAULT_PRIOR_STRENGTH[mode] if prior_strength is None else prior_strength

    @property
    def config(self):
        """The in-domain planner's config: a composed planner plans at its resolution and frame stride."""
        return self.in_domain.config

    def guided_prediction(self, instructions: list[str], guidance: float):
        """`(noisy, timestep, first) -> composed prediction` for one instruction per batch row; each model
        encodes them itself."""
        leader, follower = (self.in_domain, self.prior) if self.mode == "pa" else (self.prior, self.in_domain)
        leader_text, follower_text = leader.text_encoder(instructions), follower.text_encoder(instructions)

        def predict(noisy, timestep, first):  # noisy: (B, K, C, h, w), first: (B, C, h, w)
            conditional, null = leader.branches(noisy, timestep, first, *leader_text, unconditional=True)
            other, _ = follower.branches(noisy, timestep, first, *follower_text, unconditional=False)
            return null + guidance * (conditional + self.prior_strength * other - null)

        return predict

    def plan(
        self,
        image: np.ndarray,
        instruction: str,
        *,
        seed: int | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        sampler: str | None = None,
        decode_as_change: bool | None = None,
    ) -> VideoPlan:
        """As `VideoPlanner.plan`, with the composed prediction; `guidance` None takes this planner's α."""
        options = dict(seed=seed, steps=steps, guidance=guidance, sampler=sampler, decode_as_change=decode_as_change)
        return self.plan_samples(image, instruction, 1, **options)[0]

    def plan_samples(
        self, image: np.ndarray, instruction: str, num_samples: int, *, seed=None, steps=None, guidance=None, **options
    ) -> list[VideoPlan]:
        """`num_samples` composed plans of the same request drawn in one batch; arguments as `plan`."""
        request = PlanRequest(image, instruction, seed=seed, steps=steps, guidance=guidance, num_samples=num_samples)
        return self.plan_batch([request], **options)[0]

    def plan_batch(self, requests: Sequence[PlanRequest], **options) -> list[list[VideoPlan]]:
        """As `VideoPlanner.plan_batch`, with the composed prediction; a request's None guidance takes this
        planner's α."""
        return self.in_domain.batched_plans(requests, self.guided_prediction, self.guidance, **options)
