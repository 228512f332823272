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

from robot_io.errors import InputError
from video_planner.planner import VideoPlanner

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
    differences = [
        ("latent normalisation shift", in_domain.latent_shift, prior.latent_shift),
        ("latent normalisation scale", in_domain.latent_scale, prior.latent_scale),
        *((f"autoencoder weight {key}", value, theirs.get(key)) for key, value in ours.items()),
    ]
    for name, a, b in differences:
        if b is None or a.shape != b.shape or not torch.equal(a.cpu(), b.cpu()):
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


def load_planner(
    planner: str,
    prior: str | None = None,
    mode: str = "ipa",
    motion_adapter: str | None = None,
    sampling_steps: int | None = None,
    **composition,
):
    """A planner directory or Hub id, loaded; with `prior`, a `ComposedDenoiser` of it and the prior (also
    checked here, so a prior that fails to load or does not fit stops a run before it starts). The prior is
    a planner, or with `motion_adapter` a Stable Diffusion base that the AnimateDiff adapter animates.
    `sampling_steps` replaces the planner config's number of sampling steps for every plan."""
    in_domain = VideoPlanner.from_pretrained(planner)
    if sampling_steps is not None:
        in_domain.config = dataclasses.replace(in_domain.config, sampling_steps=sampling_steps)
    if prior is None:
        return in_domain
    if motion_adapter is None:
        loaded = VideoPlanner.from_pretrained(prior)
    else:
        from video_planner.diffusers_prior import DiffusersVideoPrior

        shape = {"image_size": in_domain.config.image_size, "num_future_frames": in_domain.config.num_future_frames}
        loaded = DiffusersVideoPrior.from_pretrained(prior, motion_adapter, **shape)
    return ComposedDenoiser(in_domain, loaded, mode, **composition)
