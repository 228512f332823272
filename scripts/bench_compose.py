"""What score composition costs at plan time, on a CUDA accelerator: plan latency of the in-domain planner
alone against PA and IPA with each kind of prior, measured in the same run.

    .venv/bin/python scripts/bench_compose.py --minilm-files DIR

- planner prior: the gpu preset composed with a second gpu-preset planner (our multi-task prior's shape);
- AnimateDiff prior: the gpu-animatediff preset composed with Stable Diffusion 1.5's UNet, AnimateDiff's
  motion adapter and a CLIP-L-sized text encoder, all at their full sizes, in fp16 as `load_prior` loads them.

Every network has random weights in the real architecture (no weights can be downloaded where this runs), so
the timings are those of the real models while the plans themselves mean nothing. The checks confirm that a
composition with γ = 0 in PA plans exactly what the planner alone plans, on the device.
"""

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from bench_gpu_preset import INSTRUCTION, random_weight_configs, save_report
from bench_timing import time_interleaved

from foundation.errors import InputError, exit_status
from video_planner.model.composition import ComposedPlanner
from video_planner.model.config import PlannerConfig, preset
from video_planner.model.planner import VideoPlanner

# Stable Diffusion 1.5's UNet and text encoder (CLIP ViT-L/14's text tower); AnimateDiff v1-5's scheduler.
SD15_UNET = {
    "block_out_channels": (320, 640, 1280, 1280),
    "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    "layers_per_block": 2,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
}
CLIP_L_TEXT = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
}
ANIMATEDIFF_SCHEDULER = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "linear", "clip_sample": False}


def random_animatediff_prior(text_dir: Path, vae_dir: Path, image_size: int, num_future_frames: int, device):
    """An AnimateDiff pipeline's prior with random weights at full size: SD 1.5's UNet and the motion adapter's
    default (v1-5) architecture, the VAE saved in `vae_dir`, and a CLIP-L-sized text encoder over the tokenizer
    in `text_dir` (CLIP's own tokenizer cannot be downloaded)."""
    from diffusers import AnimateDiffPipeline, AutoencoderKL, DDIMScheduler, MotionAdapter, UNet2DConditionModel
    from transformers import AutoTokenizer, CLIPTextConfig, CLIPTextModel

    from video_planner.model.diffusers_prior import DiffusersVideoPrior

    tokenizer = AutoTokenizer.from_pretrained(text_dir)
    special = {"bos_token_id": tokenizer.cls_token_id, "eos_token_id": tokenizer.sep_token_id}
    text_encoder = CLIPTextModel(CLIPTextConfig(vocab_size=tokenizer.vocab_size, **special, **CLIP_L_TEXT))
    pipeline = AnimateDiffPipeline(
        vae=AutoencoderKL.from_pretrained(vae_dir),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=UNet2DConditionModel(**SD15_UNET),
        motion_adapter=MotionAdapter(),
        scheduler=DDIMScheduler(**ANIMATEDIFF_SCHEDULER),
    )
    dtype = torch.float16 if torch.device(device).type == "cuda" else torch.float32
    pipeline.to(device, dtype)
    return DiffusersVideoPrior.from_pipeline(pipeline, image_size=image_size, num_future_frames=num_future_frames)


def _animatediff_planner_config(gpu: PlannerConfig) -> PlannerConfig:
    """The gpu-animatediff preset over the random-weight parts of `gpu` (same VAE and text encoder)."""
    autoencoder = dataclasses.replace(gpu.autoencoder, normalization="scaling_factor")
    return preset("gpu-animatediff", text_encoder=gpu.text_encoder, autoencoder=autoencoder)


def _latency_rows(planner: VideoPlanner, prior, steps_list) -> list[dict]:
    """s / plan (median and min) for the planner alone, PA and IPA (reference α and γ), at each number of
    sampling steps, all variants interleaved."""
    image = np.random.default_rng(0).integers(0, 256, (planner.config.image_size,) * 2 + (3,), dtype=np.uint8)
    planners = {"alone": planner, **{mode: ComposedPlanner(planner, prior, mode) for mode in ("pa", "ipa")}}
    variants = {
        (steps, name): lambda p=p, s=steps: p.plan(image, INSTRUCTION, steps=s, seed=0)
        for steps in steps_list
        for name, p in planners.items()
    }
    sync = torch.cuda.synchronize if planner.device.type == "cuda" else lambda: None
    timings = time_interleaved(variants, repeats=5, warmup=1, sync=sync)
    return [
        {"steps": steps, "denoiser": name, "s_per_plan": t.median_s, "s_per_plan_min": t.min_s}
        for (steps, name), t in timings.items()
    ]


def _pa_without_prior_is_the_planner(planner: VideoPlanner, prior) -> bool:
    """PA with γ = 0 and the planner's own guidance must plan the planner's plan, frame for frame."""
    image = np.random.default_rng(1).integers(0, 256, (planner.config.image_size,) * 2 + (3,), dtype=np.uint8)
    composed = ComposedPlanner(planner, prior, "pa", guidance=planner.config.guidance_scale, prior_strength=0.0)
    alone = planner.plan(image, INSTRUCTION, steps=5, seed=2).frames
    return bool(np.array_equal(alone, composed.plan(image, INSTRUCTION, steps=5, seed=2).frames))


def _denoising_network(prior) -> torch.nn.Module:
    """The network queried at every sampling step: a planner's denoiser, or a diffusers prior's UNet."""
    return prior.unet if hasattr(prior, "unet") else prior.denoiser


def _case(planner: VideoPlanner, prior, steps_list, device: torch.device) -> dict:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    result = {
        "prior_params_m": sum(p.numel() for p in _denoising_network(prior).parameters()) / 1e6,
        "planner_params_m": sum(p.numel() for p in planner.denoiser.parameters()) / 1e6,
        "latency": _latency_rows(planner, prior, steps_list),
        "pa_gamma0_equals_planner": _pa_without_prior_is_the_planner(planner, prior),
    }
    result["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return result


def bench_compose(minilm_files: Path | None, steps_list=(10, 25), device: str = "cuda") -> dict:
    """Both cases of the module docstring, as one report; `device` other than cuda is for trying the script."""
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("scripts/bench_compose.py needs a CUDA device; pass --device cpu to try it on the CPU (slow)")
    device = torch.device(device)
    report = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "steps": list(steps_list)}
    with tempfile.TemporaryDirectory() as tmp:
        gpu = random_weight_configs(Path(tmp), minilm_files)["gpu"]
        torch.manual_seed(0)
        planner, prior = VideoPlanner(gpu).to(device).eval(), VideoPlanner(gpu).to(device).eval()
        report["planner_prior"] = _case(planner, prior, steps_list, device)
        del planner, prior
        torch.manual_seed(0)
        planner = VideoPlanner(_animatediff_planner_config(gpu)).to(device).eval()
        text_dir, vae_dir = Path(gpu.text_encoder.source), Path(gpu.autoencoder.pretrained)
        config = planner.config
        prior = random_animatediff_prior(text_dir, vae_dir, config.image_size, config.num_future_frames, device)
        report["animatediff_prior"] = _case(planner, prior, steps_list, device)
    return report


def markdown_report(report: dict) -> str:
    lines = [f"device: {report['device']}; random weights in the real architectures"]
    titles = {"planner_prior": "gpu preset + planner prior", "animatediff_prior": "gpu-animatediff + AnimateDiff prior"}
    for key, title in titles.items():
        case = report[key]
        lines += [
            "",
            f"{title}: denoising networks of {case['planner_params_m']:.0f} M (planner) and "
            f"{case['prior_params_m']:.0f} M params (prior), peak memory {case['peak_memory_gib']:.1f} GiB",
            "| steps | denoiser | s / plan | vs planner alone |",
            "|---|---|---|---|",
        ]
        alone = {r["steps"]: r["s_per_plan"] for r in case["latency"] if r["denoiser"] == "alone"}
        lines += [
            f"| {r['steps']} | {r['denoiser']} | {r['s_per_plan']:.3f} | {r['s_per_plan'] / alone[r['steps']]:.2f}x |"
            for r in case["latency"]
        ]
        lines.append(f"PA with γ = 0 plans the planner's plan exactly: {case['pa_gamma0_equals_planner']}")
    return "\n".join(lines)


def write_report(report: dict, output: Path) -> str:
    return save_report(report, markdown_report(report), output, "bench_compose")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minilm-files", type=Path, help="MiniLM config.json + tokenizer files (default: the package's)"
    )
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 25], help="numbers of sampling steps to time")
    parser.add_argument("--device", default="cuda", help="cpu only to try the script")
    parser.add_argument("--output", type=Path, default=Path("outputs/bench-compose"))
    args = parser.parse_args()
    return exit_status(
        lambda: print(write_report(bench_compose(args.minilm_files, args.steps, args.device), args.output))
    )


if __name__ == "__main__":
    sys.exit(main())
