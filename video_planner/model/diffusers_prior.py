"""A diffusers text-to-video model as the prior of a score composition: AnimateDiff (Stable Diffusion's UNet
with a motion adapter, CLIP text encoder, SD's VAE), as Adapt2Act and SAIL use it.

    prior = DiffusersVideoPrior.from_pretrained(
        "stable-diffusion-v1-5/stable-diffusion-v1-5", "guoyww/animatediff-motion-adapter-v1-5-3",
        image_size=128, num_future_frames=7,
    )
    composed = ComposedPlanner(planner, prior, mode="ipa")   # planner trained with the gpu-animatediff preset

It is a `Prior` (`video_planner.model.protocols`), as a `VideoPlanner` is: a config naming its frames and noise
schedule, the autoencoder and latent normalisation that define its latent space, a text encoder, and
`branches()`. The prior sees the video [first frame, K future frames]; AnimateDiff has no image input, so
the first frame enters by replacement: at each step its latent is the conditioning frame's latent noised to
that step's level (with noise fixed per timestep, so plans stay reproducible), and only the K future frames'
predictions are used.
"""

from dataclasses import dataclass

import torch
from diffusers import DDPMScheduler
from einops import rearrange
from torch import nn

from foundation.errors import InputError

# AnimateDiff's motion modules were trained with SD's β range on a linear (not scaled-linear) schedule.
ANIMATEDIFF_BETA_SCHEDULE = "linear"


@dataclass(frozen=True)
class PriorConfig:
    """What composition compares with the in-domain planner's config."""

    image_size: int
    num_future_frames: int
    num_train_timesteps: int
    beta_schedule: str
    beta_start: float
    beta_end: float
    prediction_type: str


class PromptEncoder(nn.Module):
    """Prompts -> CLIP token embeddings padded to the encoder's full length, as Stable Diffusion pipelines
    encode them (the padding tokens' embeddings count, so the mask is all ones)."""

    def __init__(self, tokenizer, model, negative_prompt: str = ""):
        super().__init__()
        self.tokenizer, self.model = tokenizer, model.eval().requires_grad_(False)
        self.max_length = min(tokenizer.model_max_length, model.config.max_position_embeddings)
        self.negative_prompt = negative_prompt
        self._cache: dict[str, torch.Tensor] = {}

    def train(self, mode: bool = True) -> "PromptEncoder":
        return super().train(False)

    @torch.no_grad()
    def embed(self, prompts: list[str]) -> torch.Tensor:
        """# -> (B, L, D) on the model's device"""
        for prompt in dict.fromkeys(prompts):
            if prompt not in self._cache:
                tokens = self.tokenizer(
                    prompt, padding="max_length", max_length=self.max_length, truncation=True, return_tensors="pt"
                )
                self._cache[prompt] = self.model(tokens.input_ids.to(self.model.device))[0][0]
        return torch.stack([self._cache[p] for p in prompts])

    def forward(self, instructions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        embeddings = self.embed(instructions)
        return embeddings, torch.ones(embeddings.shape[:2], dtype=torch.bool, device=embeddings.device)


class DiffusersVideoPrior(nn.Module):
    """A frozen text-to-video UNet with its VAE and prompt encoder, queried like a planner's denoiser."""

    def __init__(self, unet, vae, prompt_encoder: PromptEncoder, config: PriorConfig):
        super().__init__()
        self.unet, self.autoencoder, self.text_encoder, self.config = unet, vae, prompt_encoder, config
        channels = vae.config.latent_channels
        self.register_buffer("latent_shift", torch.zeros(channels))
        self.register_buffer("latent_scale", torch.full((channels,), float(vae.config.scaling_factor)))
        schedule = DDPMScheduler(
            num_train_timesteps=config.num_train_timesteps,
            beta_schedule=config.beta_schedule,
            beta_start=config.beta_start,
            beta_end=config.beta_end,
        )
        self.register_buffer("alphas_cumprod", schedule.alphas_cumprod.clone())

    @classmethod
    def from_pipeline(
        cls,
        pipeline,
        *,
        image_size: int,
        num_future_frames: int,
        beta_schedule: str = ANIMATEDIFF_BETA_SCHEDULE,
        negative_prompt: str = "",
    ) -> "DiffusersVideoPrior":
        """The prior of a loaded `AnimateDiffPipeline` (its UNet already carries the motion modules)."""
        scheduler = dict(pipeline.scheduler.config)
        config = PriorConfig(
            image_size=image_size,
            num_future_frames=num_future_frames,
            num_train_timesteps=scheduler["num_train_timesteps"],
            beta_schedule=beta_schedule,
            beta_start=scheduler["beta_start"],
            beta_end=scheduler["beta_end"],
            prediction_type=scheduler.get("prediction_type", "epsilon"),
        )
        prompts = PromptEncoder(pipeline.tokenizer, pipeline.text_encoder, negative_prompt)
        prior = cls(pipeline.unet.eval().requires_grad_(False), pipeline.vae.eval(), prompts, config)
        return prior.eval()

    @classmethod
    def from_pretrained(
        cls, base: str, motion_adapter: str, *, torch_dtype: torch.dtype | None = None, **kwargs
    ) -> "DiffusersVideoPrior":
        """Stable Diffusion `base` (Hub id or directory) with an AnimateDiff `motion_adapter`; keyword
        arguments as `from_pipeline`."""
        from diffusers import AnimateDiffPipeline, MotionAdapter

        try:
            adapter = MotionAdapter.from_pretrained(motion_adapter, torch_dtype=torch_dtype)
            pipeline = AnimateDiffPipeline.from_pretrained(base, motion_adapter=adapter, torch_dtype=torch_dtype)
        except (OSError, ValueError) as err:  # missing or unreachable files (Hub errors are OSErrors); bad configs
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise InputError(f"cannot load the AnimateDiff prior ({base} + {motion_adapter}): {reason}") from None
        return cls.from_pipeline(pipeline, **kwargs)

    def _noised_first(self, first: torch.Tensor, timestep) -> torch.Tensor:
        """The conditioning latent at `timestep`'s noise level. # (B, C, h, w)"""
        noise = torch.randn(first.shape[1:], generator=torch.Generator().manual_seed(int(timestep)))
        alpha = self.alphas_cumprod[int(timestep)]
        return alpha.sqrt() * first + (1 - alpha).sqrt() * noise.to(first.device)

    @torch.no_grad()
    def branches(self, noisy, timestep, first, text, mask, *, unconditional: bool):
        """As `VideoPlanner.branches`: the prediction for the K future frames with the instruction and, when
        `unconditional`, with the negative prompt. noisy: (B, K, C, h, w), first: (B, C, h, w), text: (B, L, D)"""
        video = torch.cat([self._noised_first(first, timestep)[:, None], noisy], dim=1)  # (B, 1+K, C, h, w)
        video = rearrange(video, "b t c h w -> b c t h w")  # diffusers' video layout
        if unconditional:
            null = self.text_encoder.embed([self.text_encoder.negative_prompt] * len(text))
            video, text = torch.cat([video, video]), torch.cat([text, null])
        dtype, frames = self.unet.dtype, video.shape[2]
        per_frame = text.repeat_interleave(frames, dim=0)  # (B'·(1+K), L, D): the UNet sees frames as a batch
        out = self.unet(video.to(dtype), int(timestep), encoder_hidden_states=per_frame.to(dtype)).sample.float()
        future = rearrange(out, "b c t h w -> b t c h w")[:, 1:]  # (B', K, C, h, w)
        return tuple(future.chunk(2)) if unconditional else (future, None)
