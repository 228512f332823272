"""The planner's networks: the frame autoencoder and the video denoiser, both built from diffusers blocks."""

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from einops import rearrange
from torch import nn

from video_planner.model.config import (
    AUTOENCODER_NORM_GROUPS,
    DENOISER_NORM_GROUPS,
    AutoencoderConfig,
    PlannerConfig,
)


def build_autoencoder(config: AutoencoderConfig) -> AutoencoderKL:
    """A pretrained AutoencoderKL (e.g. Stable Diffusion's), or a small one to train in-domain."""
    if config.pretrained:
        return AutoencoderKL.from_pretrained(config.pretrained, subfolder=config.subfolder)
    levels = len(config.block_out_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * levels,
        up_block_types=("UpDecoderBlock2D",) * levels,
        block_out_channels=config.block_out_channels,
        layers_per_block=config.layers_per_block,
        latent_channels=config.latent_channels,
        norm_num_groups=AUTOENCODER_NORM_GROUPS,
        mid_block_add_attention=False,  # attention at 16x16 costs more than it helps reconstruction here
    )


class VideoDenoiser(nn.Module):
    """Predicts the diffusion target for K future frame latents from the first frame and the instruction.

    The K noisy latents and the clean first-frame latent are stacked along channels into one 2-D UNet:
    on 16×16 latents this mixes all frames in every convolution, and a train step costs ~70× less per clip
    than a diffusers 3-D UNet on 64×64 pixels (`scripts/bench_train_step.py`). Instruction
    tokens enter by cross-attention at the coarsest levels only. A learned null token stands for "no
    instruction", the unconditional branch of classifier-free guidance.
    """

    def __init__(self, config: PlannerConfig, text_dim: int):
        super().__init__()
        c, k, levels = config.autoencoder.latent_channels, config.num_future_frames, config.denoiser
        n = len(levels.block_out_channels)
        attends = set(levels.attention_levels)
        self.num_frames, self.latent_channels = k, c
        self.unet = UNet2DConditionModel(
            sample_size=config.latent_size,
            in_channels=c * (k + 1),
            out_channels=c * k,
            down_block_types=tuple("CrossAttnDownBlock2D" if i in attends else "DownBlock2D" for i in range(n)),
            up_block_types=tuple("CrossAttnUpBlock2D" if n - 1 - i in attends else "UpBlock2D" for i in range(n)),
            block_out_channels=levels.block_out_channels,
            layers_per_block=levels.layers_per_block,
            cross_attention_dim=text_dim,
            attention_head_dim=levels.attention_head_dim,
            norm_num_groups=DENOISER_NORM_GROUPS,
        )
        self.null_text = nn.Parameter(torch.zeros(1, 1, text_dim))

    def _drop_text(self, text: torch.Tensor, mask: torch.Tensor, drop: torch.Tensor):
        """Replaces the instruction of rows where `drop` is True by the null token. Inside `forward`, so a
        sharded denoiser (FSDP) has the null token gathered when it is read.

        text: (B, L, D), mask: (B, L) bool, drop: (B,) bool -> same shapes.
        """
        null_row = torch.zeros_like(text[:1])
        null_row[:, :1] = self.null_text
        null_mask = torch.zeros_like(mask[:1])
        null_mask[:, 0] = True
        text = torch.where(drop[:, None, None], null_row, text)
        mask = torch.where(drop[:, None], null_mask, mask)
        return text, mask

    def forward(
        self,
        noisy: torch.Tensor,  # (B, K, C, h, w)
        timesteps: torch.Tensor,  # (B,)
        first: torch.Tensor,  # (B, C, h, w)
        text: torch.Tensor,  # (B, L, D)
        text_mask: torch.Tensor,  # (B, L) bool
        drop: torch.Tensor | None = None,  # (B,) bool: rows whose instruction is the null token instead
    ) -> torch.Tensor:  # (B, K, C, h, w)
        if drop is not None:
            text, text_mask = self._drop_text(text, text_mask, drop)
        x = torch.cat([first, rearrange(noisy, "b k c h w -> b (k c) h w")], dim=1)  # (B, (K+1)·C, h, w)
        out = self.unet(x, timesteps, encoder_hidden_states=text, encoder_attention_mask=text_mask).sample
        return rearrange(out, "b (k c) h w -> b k c h w", k=noisy.shape[1])
