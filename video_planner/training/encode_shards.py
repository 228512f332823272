"""`vp encode`: LeRobot datasets encoded once into latent shards (`latent_shards.py` says what a shard holds) by a
planner's autoencoder and text encoder, so pretraining never decodes a video or runs the text encoder again.

    vp encode --dataset outputs/datasets/metaworld_mt50_prior --planner outputs/planner/mt50-prior/checkpoint \
        --output outputs/shards/mt50 [--clips-per-shard 1000]

The planner directory gives the latent space: its autoencoder, latent normalisation, text encoder, resolution,
K and frame stride; its files (not the denoiser) are copied into `SHARDS/latent_space/`. A shard holds whole
episodes of one dataset and about `clips_per_shard` clips. The output appears whole or not at all: shards and
manifest are written to a staging directory that replaces `--output` when the last shard is done.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from tqdm import tqdm

from foundation.atomic_dir import atomic_directory
from foundation.errors import InputError
from foundation.hub import weights_digest
from robot_io.frame_bank import FrameBank, PlannerClips
from robot_io.metaworld_tasks import task_of_instruction
from video_planner.model.checkpoint import AUTOENCODER_DIR, CONFIG_FILE, NORMALIZATION_FILE
from video_planner.model.planner import VideoPlanner
from video_planner.training.latent_shards import LATENT_SPACE_DIR, MANIFEST_FILE, SHARD_FORMAT, shard_name

ENCODE_BATCH = 256  # frames per autoencoder call


def latent_space(planner: VideoPlanner) -> dict:
    """What shards and a denoiser must agree on: the frames' latents, the clips' shape and the text embeddings;
    `digest` covers the autoencoder's weights and the latent normalisation."""
    config = planner.config
    digest = hashlib.sha1(weights_digest(planner.autoencoder).encode())
    for stat in (planner.latent_shift, planner.latent_scale):
        digest.update(stat.detach().cpu().float().numpy().tobytes())
    return {
        "digest": digest.hexdigest()[:16],
        "image_size": config.image_size,
        "num_future_frames": config.num_future_frames,
        "frame_stride": config.frame_stride,
        "text_encoder": config.to_dict()["text_encoder"],
    }


def write_latent_space(planner: VideoPlanner, directory: Path) -> None:
    """The planner files that define the shards' latents (config, latent normalisation, the in-domain
    autoencoder), so a pretraining box needs the shard directory and nothing else."""
    directory.mkdir()
    planner.config.save(directory / CONFIG_FILE)
    normalization = {"latent_shift": planner.latent_shift.tolist(), "latent_scale": planner.latent_scale.tolist()}
    (directory / NORMALIZATION_FILE).write_text(json.dumps(normalization, indent=2))
    if not planner.config.autoencoder.pretrained:
        planner.autoencoder.save_pretrained(directory / AUTOENCODER_DIR)


def episode_groups(clips_per_episode: np.ndarray, clips_per_shard: int) -> list[range]:
    """Consecutive episodes gathered until a group holds at least `clips_per_shard` clips (the last group may
    hold fewer). clips_per_episode: (E,)"""
    groups, first, count = [], 0, 0
    for episode, clips in enumerate(clips_per_episode):
        count += int(clips)
        if count >= clips_per_shard:
            groups.append(range(first, episode + 1))
            first, count = episode + 1, 0
    if first < len(clips_per_episode):
        groups.append(range(first, len(clips_per_episode)))
    return groups


@torch.no_grad()
def encode_shard(planner: VideoPlanner, bank: FrameBank, clips: PlannerClips, episodes: range) -> dict:
    """The tensors of one shard: the frames of `episodes` as latents, and their clips."""
    first_row = int(bank.starts[episodes.start])
    end_row = int(bank.starts[episodes.stop - 1] + bank.lengths[episodes.stop - 1])
    frames = bank.frames[first_row:end_row]  # (N, 3, H, W) uint8
    latents = torch.cat(
        [planner.encode_frames(frames[i : i + ENCODE_BATCH]) for i in range(0, len(frames), ENCODE_BATCH)]
    )
    mine = (clips.starts[:, 0] >= episodes.start) & (clips.starts[:, 0] < episodes.stop)  # (M_all,)
    instructions = [clips.instructions[i] for i in np.flatnonzero(mine)]
    names = sorted(set(instructions))
    text, mask = planner.text_encoder(names)  # (I, L, D), (I, L)
    return {
        "latents": latents.float().cpu().contiguous(),
        "clips": torch.from_numpy(clips.index[mine] - first_row).long(),
        "clip_is_pad": torch.from_numpy(clips.is_pad[mine]),
        "clip_text": torch.tensor([names.index(i) for i in instructions], dtype=torch.long),
        "text": text.float().cpu().contiguous(),
        "text_mask": mask.bool().cpu(),
    }


def encode_datasets(
    planner: VideoPlanner, datasets: list[str], output: Path, clips_per_shard: int = 1000, show_progress: bool = True
) -> dict:
    """Writes the shards of `datasets` and their manifest to `output`; returns the manifest."""
    if clips_per_shard < 1:
        raise InputError(f"--clips-per-shard must be >= 1, got {clips_per_shard}")
    config = planner.config
    planner.eval()
    sources, shards, tasks = [], [], set()
    with atomic_directory(Path(output)) as staging:
        write_latent_space(planner, staging / LATENT_SPACE_DIR)
        for dataset in datasets:
            bank = FrameBank.load(dataset, config.image_size, show_progress)
            clips = PlannerClips(bank, config.num_future_frames, config.frame_stride)
            per_episode = np.bincount(clips.starts[:, 0], minlength=len(bank.lengths))  # (E,)
            groups = episode_groups(per_episode, clips_per_shard)
            for episodes in tqdm(groups, desc=f"encode {Path(dataset).name}", disable=not show_progress):
                tensors = encode_shard(planner, bank, clips, episodes)
                name = shard_name(len(shards))
                save_file(tensors, staging / name)
                shards.append(
                    {
                        "file": name,
                        "source": len(sources),
                        "episodes": [episodes.start, episodes.stop],
                        "frames": len(tensors["latents"]),
                        "clips": len(tensors["clips"]),
                    }
                )
            sources.append({"dataset": str(dataset), "episodes": len(bank.lengths), "frames": len(bank.frames)})
            tasks |= {task_of_instruction(i) for i in bank.instructions}
        manifest = {
            "format": SHARD_FORMAT,
            "latent_space": latent_space(planner),
            "sources": sources,
            "tasks": sorted(tasks),
            "shards": shards,
            "clips": sum(s["clips"] for s in shards),
            "frames": sum(s["frames"] for s in shards),
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    return manifest
