"""The planner's configuration and its two presets.

`cpu` (default) is sized by measurement to train at ~0.26 s per step at batch 8 on 2 CPU cores and to
plan in well under a second: an in-domain AutoencoderKL maps 64×64 frames to 16×16×4 latents, and a
2-D UNet denoises the K future latents stacked along channels, conditioned on the first frame's latent
(stacked the same way) and on instruction tokens through cross-attention at its lowest resolution only.
`gpu` is the same design at 128×128 in the latent space of Stable Diffusion's VAE, so it shares latent
space with big pretrained video priors, and runs in bf16.
"""

import dataclasses
import operator
from dataclasses import dataclass, field
from typing import ClassVar

from foundation.config_io import VersionedConfig
from foundation.errors import InputError

CONFIG_VERSION = 1
MAX_SAMPLING_STEPS = 1000  # the training schedule's length: more sampling steps than timesteps would repeat them
ENCODER_KINDS = ("minilm", "clip", "t5")
SAMPLERS = ("dpmsolver++", "ddim", "ddpm")
PREDICTION_TYPES = ("v_prediction", "epsilon")
LATENT_NORMALIZATIONS = ("data", "scaling_factor")
# GroupNorm groups of the networks' resnet blocks: each level's channel count must be a multiple of these
AUTOENCODER_NORM_GROUPS = 8
DENOISER_NORM_GROUPS = 32
HINTS = {
    "autoencoder.normalization": f" (valid: {', '.join(LATENT_NORMALIZATIONS)}; scaling_factor needs a pretrained VAE)",
    "beta_end": " (needs 0 < beta_start < beta_end < 1)",
    "autoencoder.block_out_channels": f" (each level needs a positive multiple of {AUTOENCODER_NORM_GROUPS} channels)",
    "denoiser.block_out_channels": f" (each level needs a positive multiple of {DENOISER_NORM_GROUPS} channels)",
    "denoiser.attention_head_dim": " (the number of heads; it must divide the channels of every attention level)",
}
# Fields that only change how plans are drawn, not what training computes: a resumed run may change them.
SAMPLING_FIELDS = frozenset({"guidance_scale", "sampler", "sampling_steps", "decode_as_change"})


def _multiples_of(channels: tuple[int, ...], groups: int) -> bool:
    return len(channels) >= 1 and all(c >= groups and c % groups == 0 for c in channels)


@dataclass(frozen=True)
class TextEncoderConfig:
    kind: str = "minilm"  # one of ENCODER_KINDS
    source: str | None = None  # Hub id or local directory; None = the kind's default
    max_length: int = 32  # tokens kept per instruction (AVDC-11 instructions are under 16)

    def __post_init__(self):
        if self.kind not in ENCODER_KINDS:
            raise InputError(f"unknown text encoder {self.kind!r}; valid: {', '.join(ENCODER_KINDS)}")
        if self.max_length < 2:
            raise InputError(f"text encoder max_length must be >= 2, got {self.max_length}")


@dataclass(frozen=True)
class AutoencoderConfig:
    pretrained: str | None = None  # Hub id or directory of a pretrained AutoencoderKL; None = train in-domain
    subfolder: str | None = None  # e.g. "vae" inside a full Stable Diffusion repo
    block_out_channels: tuple[int, ...] = (16, 32, 64)  # in-domain only, multiples of 8; 2**(len-1) is the downsampling
    layers_per_block: int = 1  # resnet blocks per resolution level (in-domain only)
    latent_channels: int = 4  # channels of each frame's latent
    kl_weight: float = 1e-6  # of the KL term in the in-domain autoencoder's loss
    # How latents are normalised for the denoiser: "data" fits a per-channel shift and scale to the training
    # frames; "scaling_factor" multiplies by the pretrained VAE's `scaling_factor`, as Stable Diffusion
    # pipelines do, so the planner shares latent space with priors built on them (AnimateDiff).
    normalization: str = "data"

    @property
    def downsampling(self) -> int:
        return 8 if self.pretrained else 2 ** (len(self.block_out_channels) - 1)


@dataclass(frozen=True)
class DenoiserConfig:
    block_out_channels: tuple[int, ...] = (64, 128, 256)  # UNet channels per level, finest first; multiples of 32
    layers_per_block: int = 2  # resnet blocks per resolution level
    attention_levels: tuple[int, ...] = (2,)  # resolution levels with cross-attention; 0 is the finest
    # Attention heads per attention level: diffusers' UNet2DConditionModel reads its `attention_head_dim`
    # argument as the number of heads, and this value is passed to it as is
    attention_head_dim: int = 32


@dataclass(frozen=True)
class PlannerConfig(VersionedConfig):
    CURRENT_VERSION: ClassVar[int] = CONFIG_VERSION

    image_size: int = 64  # square frames in pixels; a multiple of 4 x the autoencoder's downsampling
    num_future_frames: int = 7  # K frames planned after the conditioning frame
    frame_stride: int = 8  # env steps between planned frames (MetaWorld runs at 80 fps)
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)  # how instructions are embedded
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)  # frames to latents and back
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)  # the UNet that predicts the K latents
    num_train_timesteps: int = 1000  # diffusion steps of the noise schedule
    beta_schedule: str = "squaredcos_cap_v2"  # diffusers' name of the noise schedule (cosine by default)
    beta_start: float = 0.0001  # used by the "linear" and "scaled_linear" schedules only
    beta_end: float = 0.02  # used by the "linear" and "scaled_linear" schedules only
    prediction_type: str = "v_prediction"  # what the denoiser predicts: v_prediction or epsilon
    snr_gamma: float | None = 5.0  # min-SNR loss weighting; None trains with plain MSE
    # Extra training weight on what moves: each latent pixel's loss weighs 1 + motion_weight × its change from the
    # first frame over the clip's mean change (then normalised to mean 1), so the arm and the small object it
    # carries count for more than the still background; 0 weighs every latent pixel alike
    motion_weight: float = 0.0
    text_dropout: float = 0.1  # share of training clips with the instruction dropped, for guidance
    guidance_scale: float = 2.0  # classifier-free guidance of plans; 1 turns it off
    sampler: str = "dpmsolver++"  # dpmsolver++, ddim or ddpm
    sampling_steps: int = 20  # denoising steps per plan, unless a command sets them
    # Decode each planned frame as the camera image plus the decoded change from its latent, so what the
    # plan leaves still keeps the camera's exact pixels instead of the autoencoder's reconstruction of them.
    decode_as_change: bool = True
    dtype: str = "float32"  # of the weights at inference: float32 or bfloat16
    config_version: int = CONFIG_VERSION  # the file format's version, for loading older files

    def __post_init__(self):
        checks = {
            "image_size": self.image_size % (self.autoencoder.downsampling * 4) == 0,
            "num_future_frames": self.num_future_frames >= 1,
            "frame_stride": self.frame_stride >= 1,
            "prediction_type": self.prediction_type in PREDICTION_TYPES,
            "sampler": self.sampler in SAMPLERS,
            "sampling_steps": self.sampling_steps >= 1,
            "text_dropout": 0.0 <= self.text_dropout < 1.0,
            "motion_weight": self.motion_weight >= 0.0,
            "guidance_scale": self.guidance_scale >= 1.0,
            "dtype": self.dtype in ("float32", "bfloat16"),
            "autoencoder.normalization": self.autoencoder.normalization in LATENT_NORMALIZATIONS
            and (self.autoencoder.normalization == "data" or self.autoencoder.pretrained is not None),
            "beta_end": 0 < self.beta_start < self.beta_end < 1,
            "denoiser.attention_levels": all(
                0 <= level < len(self.denoiser.block_out_channels) for level in self.denoiser.attention_levels
            ),
            "autoencoder.block_out_channels": self.autoencoder.pretrained is not None
            or _multiples_of(self.autoencoder.block_out_channels, AUTOENCODER_NORM_GROUPS),
            "denoiser.block_out_channels": _multiples_of(self.denoiser.block_out_channels, DENOISER_NORM_GROUPS),
            "denoiser.attention_head_dim": self.denoiser.attention_head_dim >= 1
            and all(
                self.denoiser.block_out_channels[level] % self.denoiser.attention_head_dim == 0
                for level in self.denoiser.attention_levels
                if 0 <= level < len(self.denoiser.block_out_channels)
            ),
        }
        for key, ok in checks.items():
            if not ok:
                value = operator.attrgetter(key)(self)
                hint = HINTS.get(key, "")
                raise InputError(f"planner config: invalid {key} = {value!r}{hint}")

    @property
    def latent_size(self) -> int:
        return self.image_size // self.autoencoder.downsampling


PRESETS = {
    "cpu": PlannerConfig(),
    "gpu": PlannerConfig(
        image_size=128,
        autoencoder=AutoencoderConfig(pretrained="stabilityai/sd-vae-ft-mse"),
        denoiser=DenoiserConfig(block_out_channels=(128, 256, 512), attention_levels=(1, 2), attention_head_dim=64),
        dtype="bfloat16",
    ),
}
# The gpu preset in AnimateDiff's latent space and noise schedule (SD's VAE encoder and scaling factor,
# linear β 0.00085 → 0.012, ε-prediction), so it composes with an AnimateDiff prior (`DiffusersVideoPrior`).
PRESETS["gpu-animatediff"] = dataclasses.replace(
    PRESETS["gpu"],
    autoencoder=dataclasses.replace(PRESETS["gpu"].autoencoder, normalization="scaling_factor"),
    beta_schedule="linear",
    beta_start=0.00085,
    beta_end=0.012,
    prediction_type="epsilon",
)


def preset(name: str, **overrides) -> PlannerConfig:
    """A preset config, with top-level fields replaced by `overrides`."""
    if name not in PRESETS:
        raise InputError(f"unknown planner preset {name!r}; valid: {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides)
