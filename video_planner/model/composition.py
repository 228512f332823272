"""Score composition of an in-domain planner with a video prior, as in Video Adapter (PA) and Adapt2Act (IPA).

    composed = ComposedDenoiser(in_domain, prior, mode="ipa")      # α = 2.5, γ = 0.5 by default
    plan = in_domain.plan(image, "open the door", denoiser=composed)

With ε_θ the in-domain model, ε_p the prior, ∅ the null instruction, α the guidance and γ the prior strength:

    pa:  ε̃ = ε_θ(∅) + α·[ε_θ(text) + γ·ε_p(text) − ε_θ(∅)]
    ipa: ε̃ = ε_p(∅) + α·[ε_p(text) + γ·ε_θ(text) − ε_p(∅)]

The formula is applied to what both models predict (ε or v; they must predict the same). For v-prediction
this equals the ε formula whenever the weights sum to one (γ = 0), and otherwise differs from it by
(αγ)·σ_t·x_t: our cosine schedule with trailing timesteps starts at ᾱ ≈ 0, where turning a composed ε back
into a clean-latent estimate divides by √ᾱ and explodes, while the composed v stays finite.
"""

import dataclasses

import torch

from foundation.errors import InputError
from video_planner.model.planner import VideoPlanner

MODES = ("pa", "ipa")
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


def check_composable(in_domain: VideoPlanner, prior) -> None:
    """Refuses a prior with another latent space or noise schedule, naming the first difference."""
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


class ComposedDenoiser:
    """The guided prediction of an in-domain planner composed with a prior; pass it to `VideoPlanner.plan`."""

    def __init__(
        self,
        in_domain: VideoPlanner,
        prior: VideoPlanner,
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

    def guided_prediction(self, instruction: str, num_samples: int, guidance: float):
        """`(noisy, timestep, first) -> composed prediction` for `instruction`; each model encodes it itself."""
        leader, follower = (self.in_domain, self.prior) if self.mode == "pa" else (self.prior, self.in_domain)
        leader_text = leader.text_encoder([instruction] * num_samples)
        follower_text = follower.text_encoder([instruction] * num_samples)

        def predict(noisy, timestep, first):  # noisy: (B, K, C, h, w), first: (B, C, h, w)
            conditional, null = leader.branches(noisy, timestep, first, *leader_text, unconditional=True)
            other, _ = follower.branches(noisy, timestep, first, *follower_text, unconditional=False)
            return null + guidance * (conditional + self.prior_strength * other - null)

        return predict

    def plan(self, image, instruction: str, **kwargs):
        """`in_domain.plan(..., denoiser=self)`."""
        return self.in_domain.plan(image, instruction, denoiser=self, **kwargs)


def resolve_device(device: str | None) -> torch.device:
    """`device`, or CUDA when there is one and the CPU otherwise."""
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def load_prior(source: str, motion_adapter: str | None, in_domain: VideoPlanner):
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


def load_planner(
    planner: str,
    prior=None,
    mode: str = "ipa",
    *,
    motion_adapter: str | None = None,
    sampling_steps: int | None = None,
    device: str | None = None,
    **composition,
):
    """A planner directory or Hub id, loaded on `device` (see `resolve_device`); with `prior` (a source for
    `load_prior`, or a prior already loaded), a `ComposedDenoiser` of the two. Loading and the composability
    check happen here, so a prior that fails to load or does not fit stops a run before it starts.
    `sampling_steps` replaces the planner config's number of sampling steps for every plan."""
    in_domain = VideoPlanner.from_pretrained(planner).to(resolve_device(device))
    if sampling_steps is not None:
        in_domain.config = dataclasses.replace(in_domain.config, sampling_steps=sampling_steps)
    if prior is None:
        return in_domain
    if isinstance(prior, str):
        prior = load_prior(prior, motion_adapter, in_domain)
    return ComposedDenoiser(in_domain, prior, mode, **composition)
