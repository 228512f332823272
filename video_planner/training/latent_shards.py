"""Latent shards: the planner's training data encoded once (`vp encode`), so that pretraining reads tensors and
nothing else. A reader needs torch and safetensors only: no LeRobot, no MuJoCo, no video decoder, no text
encoder, so it runs on any bare GPU box.

    SHARDS/manifest.json              written last: format, the latent space it was encoded in, sources, the
                                      tasks, and the frames and clips of each shard
    SHARDS/latent_space/              the encoding planner's config, latent normalisation and autoencoder
    SHARDS/shard-00000.safetensors    one shard (whole episodes, about `clips_per_shard` clips):
        latents     (N, C, h, w) float32  normalised autoencoder latents of the shard's frames
        clips       (M, K+1) int64        rows of `latents`: each clip's first frame and its K future frames
        clip_is_pad (M, K+1) bool         frames past the episode end (the last frame repeated)
        clip_text   (M,) int64            row of `text` holding the clip's instruction
        text        (I, L, D) float32     token embeddings of the shard's instructions (the text encoder's)
        text_mask   (I, L) bool           real tokens

Why safetensors and not WebDataset tars: it is already the checkpoints' format (no new dependency, no pickle),
a shard is a handful of large tensors read whole, and training draws random clips, which a tar, read as a stream
of samples, would make a scan. Each rank of a distributed run reads its own shards (`rank_shards`).
"""

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from foundation.errors import InputError

SHARD_FORMAT = 1
MANIFEST_FILE = "manifest.json"
LATENT_SPACE_DIR = "latent_space"
SHARD_KEYS = ("latents", "clips", "clip_is_pad", "clip_text", "text", "text_mask")


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.safetensors"


@dataclass(frozen=True)
class LatentShard:
    latents: torch.Tensor  # (N, C, h, w) float32
    clips: torch.Tensor  # (M, K+1) int64
    clip_is_pad: torch.Tensor  # (M, K+1) bool
    clip_text: torch.Tensor  # (M,) int64
    text: torch.Tensor  # (I, L, D) float32
    text_mask: torch.Tensor  # (I, L) bool

    def batch(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The clips at `rows`: latents (B, K+1, C, h, w), text (B, L, D), text mask (B, L)."""
        text_rows = self.clip_text[rows]
        return self.latents[self.clips[rows]], self.text[text_rows], self.text_mask[text_rows]


def read_manifest(root: Path) -> dict:
    """The manifest of a shard directory, refused in one line when it is missing (an encoding that never
    finished), of another format or names a shard that is not there."""
    path = Path(root) / MANIFEST_FILE
    if not path.is_file():
        raise InputError(f"{root} holds no {MANIFEST_FILE}: not a finished `vp encode` output; encode again")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{path} is not JSON ({err}); encode again") from None
    if manifest.get("format") != SHARD_FORMAT:
        raise InputError(f"{path} has shard format {manifest.get('format')!r}, this version reads {SHARD_FORMAT}")
    missing = [s["file"] for s in manifest["shards"] if not (Path(root) / s["file"]).is_file()]
    if missing:
        raise InputError(f"{root} lacks {', '.join(missing)} that its manifest names; encode again")
    return manifest


def load_shard(root: Path, entry: dict) -> LatentShard:
    """One shard (a manifest entry), checked against the manifest's counts."""
    path = Path(root) / entry["file"]
    try:
        tensors = load_file(path)
    except (SafetensorError, OSError) as err:
        raise InputError(f"{path} does not load as safetensors ({err}); encode again") from None
    missing = [key for key in SHARD_KEYS if key not in tensors]
    if missing:
        raise InputError(f"{path} lacks {', '.join(missing)}; encode again")
    shard = LatentShard(**{key: tensors[key] for key in SHARD_KEYS})
    if (len(shard.latents), len(shard.clips)) != (entry["frames"], entry["clips"]):
        raise InputError(
            f"{path} holds {len(shard.latents)} frames and {len(shard.clips)} clips, its manifest says "
            f"{entry['frames']} and {entry['clips']}; encode again"
        )
    return shard


def rank_shards(manifest: dict, rank: int, world_size: int) -> list[dict]:
    """The shards rank `rank` of `world_size` reads: every world_size-th, from its rank on. Disjoint across
    ranks, together all of them, the same on every run."""
    shards = manifest["shards"]
    if not 0 <= rank < world_size:
        raise InputError(f"rank {rank} is outside a world of {world_size} processes")
    if world_size > len(shards):
        raise InputError(
            f"{world_size} processes but {len(shards)} shards: every rank needs one; encode with a smaller "
            "--clips-per-shard"
        )
    return shards[rank::world_size]
