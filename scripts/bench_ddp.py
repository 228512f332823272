"""Pretraining from latent shards on CPU: samples per second of one process against two (torchrun, gloo) on the
same shards, and what encoding them cost.

The dataset (default: a fresh `datasets/tiny.toml` collection) is encoded by a cpu-preset planner with random
weights (timing does not depend on them); encode time and shard bytes per 1,000 clips are printed. Then
`vp pretrain` runs `--steps` steps per variant, variants interleaved round after round; the rate is the
trainer's own step time (`train_seconds`, without start-up, loading and checkpoints), min / median over
rounds. Variants: one process with every core's thread, one process with one thread, and two processes with
one thread each (DDP). Scaling efficiency = two processes' rate / (2 x one single-thread process's rate).

Usage: .venv/bin/python scripts/bench_ddp.py [--dataset DIR] [--steps 30 --batch-size 8 --repeats 2] [--quick]
       [--ratios FILE]
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from bench_timing import Ratio, save_ratios

from foundation.errors import InputError, exit_status
from robot_io.collect import collect
from robot_io.recipe import CollectionRecipe
from video_planner.model.config import preset
from video_planner.model.planner import VideoPlanner
from video_planner.training.encode_shards import encode_datasets

REPO = Path(__file__).resolve().parents[1]
SINGLE_THREAD, DDP = "1 process x 1 thread", "2 processes x 1 thread (DDP, gloo)"  # the scaling's two sides
VARIANTS = {  # name -> (processes, threads per process)
    f"1 process x {os.cpu_count()} threads": (1, os.cpu_count()),
    SINGLE_THREAD: (1, 1),
    DDP: (2, 1),
}


def pretrain(shards: Path, output: Path, processes: int, threads: int, steps: int, batch_size: int) -> float:
    """Samples per second of one `vp pretrain` run (all processes together)."""
    flags = ["--shards", str(shards), "--output", str(output), "--steps", str(steps), "--batch-size", str(batch_size)]
    flags += ["--checkpoint-every", str(steps), "--warmup-steps", "1"]
    if processes == 1:
        command = [sys.executable, "-m", "video_planner.cli", "pretrain", *flags]
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes)]
        command += ["--master_port", str(port), str(REPO / "scripts" / "pretrain.py"), *flags]
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    state = json.loads((output / "checkpoint" / "training_state" / "trainer_state.json").read_text())
    return steps * batch_size * processes / state["train_seconds"]


def scaling_ratio(rates: dict[str, list[float]]) -> Ratio:
    """Two single-thread processes against one, by their best runs as the table (its efficiency is half this)."""
    ddp, single = rates[DDP], rates[SINGLE_THREAD]
    best = max(ddp) / max(single)
    return Ratio(
        benchmark="pretraining samples/s",
        variant=DDP,
        baseline=SINGLE_THREAD,
        ratio=best,
        meaning="more samples/s (best runs)",
        detail=f"{max(ddp):.3g} / {statistics.median(ddp):.3g} samples/s vs {max(single):.3g} / "
        f"{statistics.median(single):.3g} samples/s (best / median); scaling efficiency {best / 2:.0%}",
    )


def bench_ddp(
    dataset: Path | None, steps: int, batch_size: int, repeats: int, variants: dict[str, tuple[int, int]]
) -> tuple[str, list[Ratio]]:
    """Encoding's cost and the table of pretraining rates of `variants`, and the scaling as a ratio."""
    if min(steps, batch_size, repeats) < 1:
        raise InputError("--steps, --batch-size and --repeats must be >= 1")
    lines = []
    with tempfile.TemporaryDirectory() as root:
        root = Path(root)
        if dataset is None:
            dataset = root / "tiny"
            collect(CollectionRecipe.from_toml(REPO / "datasets" / "tiny.toml"), dataset, show_progress=False)
        torch.manual_seed(0)
        planner = VideoPlanner(preset("cpu")).eval()
        start = time.perf_counter()
        manifest = encode_datasets(planner, [str(dataset)], root / "shards", clips_per_shard=50, show_progress=False)
        encode_s = time.perf_counter() - start
        shard_bytes = sum(path.stat().st_size for path in (root / "shards").glob("shard-*.safetensors"))
        clips, frames = manifest["clips"], manifest["frames"]
        lines += [
            f"encoded {dataset.name}: {frames} frames, {clips} clips in {len(manifest['shards'])} shards, "
            f"{encode_s:.1f} s ({1000 * encode_s / clips:.2f} s per 1,000 clips), "
            f"{shard_bytes / clips * 1000 / 2**20:.1f} MiB per 1,000 clips (cpu preset, 64 px, float32 latents)",
            "",
        ]
        rates: dict[str, list[float]] = {name: [] for name in variants}
        runs = 0
        for _ in range(repeats):
            for name, (processes, threads) in variants.items():
                runs += 1
                output = root / f"run-{runs}"
                rates[name].append(pretrain(root / "shards", output, processes, threads, steps, batch_size))
    single_thread = max(rates[SINGLE_THREAD])
    lines += [
        f"vp pretrain, cpu preset denoiser, {steps} steps, batch {batch_size} per process, "
        f"{repeats} interleaved rounds",
        "",
        "| variant | samples/s (best / median) | vs 1 process x 1 thread |",
        "|---|---|---|",
    ]
    for name, samples in rates.items():
        lines.append(
            f"| {name} | {max(samples):.1f} / {statistics.median(samples):.1f} | {max(samples) / single_thread:.2f}x |"
        )
    ddp = max(rates[DDP])
    lines += ["", f"scaling efficiency of 2 processes: {ddp / (2 * single_thread):.0%}"]
    return "\n".join(lines), [scaling_ratio(rates)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", type=Path, help="a LeRobot dataset to encode (default: collect datasets/tiny.toml)"
    )
    parser.add_argument("--steps", type=int, default=30, help="pretraining steps per run")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per process and step")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="4 steps, batch 2, 1 round, only the scaling's two variants (1 process x 1 thread, 2 processes)",
    )
    parser.add_argument(
        "--ratios", type=Path, help="append the headline ratios as JSON lines (scripts/bench_all.py reads them)"
    )
    args = parser.parse_args()
    variants = VARIANTS
    if args.quick:
        args.steps, args.batch_size, args.repeats = 4, 2, 1
        variants = {name: VARIANTS[name] for name in (SINGLE_THREAD, DDP)}

    def run() -> None:
        report, ratios = bench_ddp(args.dataset, args.steps, args.batch_size, args.repeats, variants)
        print(report)
        save_ratios(args.ratios, ratios)

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
