"""Pretraining the MT50 prior on one GPU from latent shards, with its train-step MFU: one command sized for a
short job on a GPU machine of its own (10 minutes, no network, at most 64 MiB in, at most 8 files of 16 MiB
back).

Here, on the CPU:
    vp collect --recipe datasets/metaworld_mt50_prior.toml
    vp encode --dataset outputs/datasets/metaworld_mt50_prior --planner outputs/planner/avdc11-cpu/checkpoint \
        --output outputs/shards/mt50 --clips-per-shard 250
    python scripts/gpu_prior_run.py pack --shards outputs/shards/mt50 --output gpu_bundle
On the GPU machine (torch and safetensors are there; diffusers travels as a wheel, the repository as it is):
    python scripts/gpu_prior_run.py train --bundle gpu_bundle --output $OUT --minutes 8
Here again:
    python scripts/gpu_prior_run.py unpack --pieces <the files $OUT held> --bundle gpu_bundle \
        --output outputs/planner/mt50-prior-gpu
then the two priors side by side, each with the same commands (docs/scaling.md lists them): PSNR/SSIM on
held-out MT50 demos (`vp eval-planner`) and closed-loop success on a fixed subset of the prior's own tasks
(`vp eval`).

- `pack` copies the shards' latent space and, when all the shards exceed `--max-mib`, an evenly spaced subset
  of them (every k-th, so every task keeps some of its demos); its manifest says which share of the clips.
- `train` times one train step of the denoiser on random latents of the bundle's shapes in each variant
  (eager or `torch.compile`; PyTorch's SDPA attention or diffusers' plain attention), with its MFU: FLOPs
  counted by torch's FlopCounterMode per second, over the bf16 matrix-product rate measured in the same run.
  It then pretrains (`vp pretrain`'s trainer: bf16 autocast, EMA, atomic checkpoints) with the fastest SDPA
  variant for the minutes left, and writes the EMA weights in bf16 pieces of at most `--piece-mib` beside
  `config.json` and `run.json` (the MFU table, steps, losses and seconds).
- `unpack` joins the pieces into a planner directory (float32 weights, the bundle's autoencoder and latent
  normalisation) that `VideoPlanner.from_pretrained` loads.
"""

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from bench_gpu_preset import matmul_tflops, median_seconds
from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0
from safetensors.torch import load_file, save_file
from torch.utils.flop_counter import FlopCounterMode

from foundation.atomic_dir import atomic_directory
from foundation.errors import InputError, exit_status
from video_planner.model.checkpoint import (
    AUTOENCODER_DIR,
    CONFIG_FILE,
    NORMALIZATION_FILE,
    WEIGHTS_FILE,
    write_planner_files,
)
from video_planner.model.config import PlannerConfig
from video_planner.model.networks import VideoDenoiser
from video_planner.model.planner import training_scheduler
from video_planner.training.diffusion_loss import clip_loss
from video_planner.training.latent_shards import LATENT_SPACE_DIR, MANIFEST_FILE, load_shard, read_manifest
from video_planner.training.pretrain import ShardPretrainer
from video_planner.training.pretrain_config import PretrainConfig
from video_planner.training.processes import Processes

VARIANTS = ("eager-sdpa", "eager-math", "compiled-sdpa", "compiled-math")
ATTENTION = {"sdpa": AttnProcessor2_0, "math": AttnProcessor}
RUN_FILE, PIECE_PREFIX = "run.json", "denoiser-"
MAX_FILES = 8  # what the GPU machine gives back: the pieces, config.json and run.json
OVERHEAD = 0.85  # share of the timed step rate left once loading, EMA and the checkpoint take their part


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def pack(shards: Path, output: Path, max_mib: float) -> dict:
    """The shards' latent space and the evenly spaced subset of shards that fits `max_mib`; its manifest."""
    manifest = read_manifest(shards)
    sizes = [(shards / entry["file"]).stat().st_size for entry in manifest["shards"]]
    budget = max_mib * 2**20 - folder_bytes(shards / LATENT_SPACE_DIR)
    every = next((k for k in range(1, len(sizes) + 1) if sum(sizes[::k]) <= budget), None)
    if every is None:
        raise InputError(
            f"even one shard of {shards} exceeds {max_mib} MiB with its latent space; encode smaller shards"
        )
    kept = manifest["shards"][::every]
    subset = manifest | {
        "shards": kept,
        "clips": sum(entry["clips"] for entry in kept),
        "frames": sum(entry["frames"] for entry in kept),
        "subset": {"every": every, "of_shards": len(sizes), "of_clips": manifest["clips"]},
    }
    with atomic_directory(output) as staging:
        shutil.copytree(shards / LATENT_SPACE_DIR, staging / LATENT_SPACE_DIR)
        for entry in kept:
            shutil.copy2(shards / entry["file"], staging / entry["file"])
        (staging / MANIFEST_FILE).write_text(json.dumps(subset, indent=2))
    return subset


def train_step(config: PlannerConfig, bundle: Path, batch: int, variant: str, device: torch.device):
    """One optimizer step of a fresh denoiser on random latents shaped as the bundle's clips and text, as
    `vp pretrain` takes it (bf16 autocast on a GPU, clipping, AdamW), in `variant`."""
    shard = load_shard(bundle, read_manifest(bundle)["shards"][0])
    denoiser = VideoDenoiser(config, shard.text.shape[-1]).to(device).train()
    mode, attention = variant.split("-")
    denoiser.unet.set_attn_processor(ATTENTION[attention]())
    model = torch.compile(denoiser) if mode == "compiled" else denoiser
    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=1e-4)
    scheduler = training_scheduler(config)
    k = config.num_future_frames
    clip = torch.randn(batch, k + 1, *shard.latents.shape[1:], device=device)  # (B, K+1, C, h, w)
    text = torch.randn(batch, *shard.text.shape[1:], device=device)  # (B, L, D)
    mask = torch.ones(batch, shard.text.shape[1], dtype=torch.bool, device=device)  # (B, L)
    generator = torch.Generator().manual_seed(0)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")

    def step():
        with autocast:
            loss = clip_loss(config, model, scheduler, clip, text, mask, generator)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(denoiser.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()

    return step


def measure_variants(config, bundle, batch, variants, device, peak_size: int, repeats: int) -> dict:
    """Seconds per step and MFU of each variant. FLOPs are counted once, eagerly with the plain attention, whose
    matrix products the counter sees (fused attention kernels may escape it); the variants do the same math."""
    peak = matmul_tflops(device, peak_size)
    with FlopCounterMode(display=False) as counter:
        train_step(config, bundle, batch, "eager-math", device)()
    flops = counter.get_total_flops()
    table = {}
    for variant in variants:
        step = train_step(config, bundle, batch, variant, device)
        started = time.perf_counter()
        step()  # compiles, for a compiled variant
        first = time.perf_counter() - started
        seconds = median_seconds(step, device, repeats=repeats)
        tflops = flops / seconds / 1e12
        table[variant] = {"s_per_step": seconds, "first_step_s": first, "tflops": tflops, "mfu": tflops / peak}
        print(f"{variant}: {seconds * 1e3:.1f} ms/step, {tflops:.1f} TFLOP/s, MFU {tflops / peak:.1%}", flush=True)
    return {"batch": batch, "flops_per_step": flops, "peak_tflops": peak, "device": str(device), "variants": table}


def write_pieces(weights: dict[str, torch.Tensor], output: Path, piece_mib: float) -> list[str]:
    """`weights` in bf16, in safetensors pieces of at most `piece_mib` each (a tensor larger than that alone)."""
    pieces, current, size = [], {}, 0
    for name, tensor in weights.items():
        tensor = tensor.to(torch.bfloat16).contiguous()
        if current and size + tensor.nbytes > piece_mib * 2**20:
            pieces.append(current)
            current, size = {}, 0
        current[name], size = tensor, size + tensor.nbytes
    pieces.append(current)
    names = [f"{PIECE_PREFIX}{i:05d}.safetensors" for i in range(len(pieces))]
    for name, piece in zip(names, pieces, strict=True):
        save_file(piece, output / name)
    return names


def train(args: argparse.Namespace) -> None:
    started = time.monotonic()
    bundle, output = args.bundle, args.output
    manifest = read_manifest(bundle)
    config = PlannerConfig.load(args.config or bundle / LATENT_SPACE_DIR / CONFIG_FILE)
    device = Processes().device
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not any(v.endswith("sdpa") for v in variants):
        raise InputError(f"--variants takes {', '.join(VARIANTS)}, at least one with sdpa; got {args.variants}")
    text_dim = load_shard(bundle, manifest["shards"][0]).text.shape[-1]
    with torch.device("meta"):
        weight_bytes = 2 * sum(p.numel() for p in VideoDenoiser(config, text_dim).parameters())  # in bf16
    if args.piece_mib > 16:
        raise InputError(f"--piece-mib {args.piece_mib}: files over 16 MiB do not come back; give at most 16")
    if math.ceil(weight_bytes / (args.piece_mib * 2**20)) + 2 > MAX_FILES:
        raise InputError(
            f"the denoiser's {weight_bytes / 2**20:.0f} MiB of bf16 weights need more than {MAX_FILES - 2} pieces "
            f"of {args.piece_mib} MiB; raise --piece-mib (at most 16) or train a smaller denoiser"
        )
    mfu = measure_variants(config, bundle, args.batch_size, variants, device, args.peak_size, args.repeats)
    sdpa = {v: r for v, r in mfu["variants"].items() if v.endswith("sdpa")}
    chosen = min(sdpa, key=lambda v: sdpa[v]["s_per_step"])
    left = args.minutes * 60 - (time.monotonic() - started) - sdpa[chosen]["first_step_s"]
    steps = args.steps or max(1, int(OVERHEAD * left / sdpa[chosen]["s_per_step"]))
    print(f"pretraining {steps} steps with {chosen}", flush=True)
    pretrain = PretrainConfig(
        shards=str(bundle),
        steps=steps,
        batch_size=args.batch_size,
        warmup_steps=min(500, steps // 10),
        checkpoint_every=steps,
        compile=chosen.startswith("compiled"),
    )
    with tempfile.TemporaryDirectory() as work:
        trainer = ShardPretrainer(pretrain, Path(work), config, show_progress=False)
        checkpoint = trainer.run()
        output.mkdir(parents=True, exist_ok=True)
        pieces = write_pieces(load_file(checkpoint / WEIGHTS_FILE), output, args.piece_mib)
        shutil.copy2(checkpoint / CONFIG_FILE, output / CONFIG_FILE)
        state = json.loads((checkpoint / "training_state" / "trainer_state.json").read_text())
    run = {
        "mfu": mfu,
        "trained_with": chosen,
        "steps": steps,
        "batch_size": args.batch_size,
        "train_seconds": state["train_seconds"],
        "losses": state["losses"],
        "tasks": manifest["tasks"],
        "clips": manifest["clips"],
        "subset": manifest.get("subset"),
        "pieces": pieces,
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    (output / RUN_FILE).write_text(json.dumps(run))
    print(f"{steps} steps in {state['train_seconds']:.0f} s; {len(pieces)} weight pieces in {output}")


def unpack(pieces: Path, bundle: Path, output: Path) -> None:
    """A planner directory of the pieces (as float32), the run's config and the bundle's latent space."""
    for needed in (pieces / RUN_FILE, pieces / CONFIG_FILE, bundle / LATENT_SPACE_DIR / NORMALIZATION_FILE):
        if not needed.is_file():
            raise InputError(f"{needed} is missing; give the files train wrote and the bundle pack wrote")
    run = json.loads((pieces / RUN_FILE).read_text())
    missing = [name for name in run["pieces"] if not (pieces / name).is_file()]
    if missing:
        raise InputError(f"{pieces} lacks {', '.join(missing)} that {RUN_FILE} names; bring back every piece")
    weights = {}
    for name in run["pieces"]:
        weights |= {key: tensor.float() for key, tensor in load_file(pieces / name).items()}
    space = bundle / LATENT_SPACE_DIR
    normalization = json.loads((space / NORMALIZATION_FILE).read_text())
    shift, scale = (torch.tensor(normalization[key]) for key in ("latent_shift", "latent_scale"))
    config = PlannerConfig.load(pieces / CONFIG_FILE)
    with atomic_directory(output) as staging:
        write_planner_files(staging, config, weights, None, shift, scale, run["tasks"])
        if (space / AUTOENCODER_DIR).is_dir():
            shutil.copytree(space / AUTOENCODER_DIR, staging / AUTOENCODER_DIR)
        shutil.copy2(pieces / RUN_FILE, staging / RUN_FILE)


def positive(kind):
    """An argparse type: a number of `kind` above 0."""

    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    return parse


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("pack", help="the shards that travel to the GPU machine")
    p.add_argument("--shards", type=Path, required=True, help="a vp encode output")
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--max-mib", type=positive(float), default=56.0, help="room for the shards and their latent space")
    p = commands.add_parser("train", help="on the GPU: MFU of each variant, then pretraining")
    p.add_argument("--bundle", type=Path, required=True, help="what pack wrote")
    p.add_argument("--output", type=Path, required=True, help="the files to bring back")
    p.add_argument("--minutes", type=positive(float), default=8.0, help="for the whole command")
    p.add_argument("--steps", type=positive(int), help="pretraining steps (default: as many as the minutes allow)")
    p.add_argument("--batch-size", type=positive(int), default=256)
    p.add_argument("--config", type=Path, help="planner config of the denoiser (default: the bundle's)")
    p.add_argument("--variants", default="eager-sdpa,eager-math,compiled-sdpa", help=", ".join(VARIANTS))
    p.add_argument("--peak-size", type=positive(int), default=8192, help="n of the n×n×n bf16 product (MFU)")
    p.add_argument("--repeats", type=positive(int), default=10, help="timed steps per variant")
    p.add_argument("--piece-mib", type=positive(float), default=15.0, help="largest weight file brought back")
    p = commands.add_parser("unpack", help="the pieces brought back, as a planner directory")
    p.add_argument("--pieces", type=Path, required=True)
    p.add_argument("--bundle", type=Path, required=True)
    p.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()

    def run() -> None:
        if args.command == "pack":
            subset = pack(args.shards, args.output, args.max_mib)
            share = subset["subset"]
            kept = f"{len(subset['shards'])} of {share['of_shards']} shards"
            print(f"{kept} ({subset['clips']} of {share['of_clips']} clips) in {args.output}")
        elif args.command == "train":
            train(args)
        else:
            unpack(args.pieces, args.bundle, args.output)
            print(f"planner: {args.output}")

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
