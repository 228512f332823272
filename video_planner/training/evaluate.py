"""Future-frame quality of a planner on held-out demos, against baselines measured on the same clips.

    vp eval-planner --planner outputs/planner/avdc11-cpu/checkpoint \
        --dataset outputs/datasets/metaworld_avdc11_heldout --train-dataset outputs/datasets/metaworld_avdc11

For each held-out episode, clips start at a few evenly spread frames; every method predicts the K future
frames and is scored by PSNR and SSIM against the recorded ones (frames past the episode end repeat its
last frame, as in training). Baselines: "repeat the first frame", "mean training frame", and the planner
itself with 100 sampling steps; "autoencoder round trip" (the true future frames encoded and decoded)
bounds what any planner in this latent space can reach.

When the demos record MetaWorld's state, each method is also scored by the PSNR of a window around the task's
object in every future frame (its position projected into the camera): the object is a few pixels at 64 px,
so whole-frame PSNR barely sees whether a plan draws it.
"""

import json
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from foundation.errors import InputError
from foundation.frames import resize_images
from robot_io.dataset_io import open_dataset
from robot_io.episode_format import CAMERA_KEY, ENV_STATE_KEY
from robot_io.frame_bank import FrameBank
from robot_io.metaworld_env import OBJECT_POSITION, MetaWorldEnv
from robot_io.metaworld_tasks import task_of_instruction
from video_planner.model.planner import VideoPlanner
from video_planner.training.sample_grid import write_sample_gif, write_sample_sheet

SSIM_WINDOW = 11  # pixels a side of SSIM's Gaussian window, so the smallest frame it scores


def psnr(prediction: np.ndarray, target: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of uint8 frames, capped at 100 dB (identical frames). # (K, H, W, 3) x2"""
    mse = np.mean((prediction.astype(np.float64) - target.astype(np.float64)) ** 2)
    return float(min(100.0, 10 * np.log10(255.0**2 / mse))) if mse > 0 else 100.0


def ssim(prediction: np.ndarray, target: np.ndarray) -> float:
    """Mean structural similarity (Gaussian window of SSIM_WINDOW px, σ 1.5, per channel) of uint8 frames.
    # (K, H, W, 3) x2"""
    x = torch.from_numpy(prediction).permute(0, 3, 1, 2).double() / 255.0  # (K, 3, H, W)
    y = torch.from_numpy(target).permute(0, 3, 1, 2).double() / 255.0
    coords = torch.arange(SSIM_WINDOW, dtype=torch.float64) - SSIM_WINDOW // 2
    g = torch.exp(-(coords**2) / (2 * 1.5**2))
    window = (g[:, None] * g[None, :] / g.sum() ** 2).expand(3, 1, SSIM_WINDOW, SSIM_WINDOW)

    def blur(z):
        return F.conv2d(z, window, groups=3)

    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(ssim_map.mean())


def object_psnr(prediction: np.ndarray, target: np.ndarray, centres: np.ndarray, half: int) -> float | None:
    """PSNR over the windows of ±`half` pixels around each frame's object pixel, pooled; None when the object
    is out of view in every frame. # (K, H, W, 3) x2, centres (K, 2) as (column, row)"""
    size = target.shape[1]
    predicted, true = [], []
    for k, (column, row) in enumerate(np.round(centres).astype(int)):
        rows = slice(max(row - half, 0), min(row + half, size))
        columns = slice(max(column - half, 0), min(column + half, size))
        if rows.stop > rows.start and columns.stop > columns.start:
            predicted.append(prediction[k, rows, columns].ravel())
            true.append(target[k, rows, columns].ravel())
    return psnr(np.concatenate(predicted), np.concatenate(true)) if predicted else None


def object_pixels(heldout: str | Path, bank: FrameBank, image_size: int) -> np.ndarray | None:
    """The task object's (column, row) pixel in every frame of `bank` (N, 2), projected from the MetaWorld
    states the demos record; None for demos without them (a real arm's)."""
    dataset = open_dataset(heldout)
    if ENV_STATE_KEY not in dataset.meta.features:
        return None
    table = dataset.hf_dataset.with_format("numpy")
    env_states, cameras = np.asarray(table[ENV_STATE_KEY]), table[CAMERA_KEY]
    pixels = np.zeros((len(env_states), 2))
    envs: dict[tuple[str, str], MetaWorldEnv] = {}
    with ExitStack() as closing:
        for instruction, start, length in zip(bank.instructions, bank.starts, bank.lengths, strict=True):
            key = (task_of_instruction(instruction), str(cameras[start]))
            if key not in envs:
                envs[key] = closing.enter_context(MetaWorldEnv(*key, image_size=image_size))
                envs[key].reset(0, render=False)  # the cameras' poses are computed; fixed cameras keep them
            states = env_states[start : start + length, OBJECT_POSITION]
            pixels[start : start + length] = envs[key].pixel_coordinates(states)
    return pixels


@dataclass(frozen=True)
class EvalSettings:
    clips_per_episode: int = 3
    seed: int = 0
    reference_steps: int = 100  # the planner's own many-step result; 0 skips it
    sample_clips: int = 6
    object_window: int = 6  # half-width in pixels at 64 px of the window scored around the object (12 × 12)
    # Frames are scored area-downsampled to this size (a divisor of the planner's), so planners of different
    # resolutions compare on the same pixels: those a 64 px IDM reads. None: the planner's own size.
    score_size: int | None = None

    def object_half_width(self, image_size: int) -> int:
        """The window's half-width at `image_size`: scaled from 64 px, so every resolution is scored on the same
        part of the scene."""
        return max(1, round(self.object_window * image_size / 64))

    def planner_variants(self) -> dict[str, dict]:
        """plan() keyword arguments of each planner column; the first one is "planner", the planner's defaults."""
        variants = {"planner": {}}
        if self.reference_steps:
            variants[f"planner, {self.reference_steps} steps"] = {"steps": self.reference_steps}
        return variants


def _clip_starts(bank: FrameBank, episode: int, count: int, stride: int) -> list[int]:
    last_start = max(0, bank.lengths[episode] - 1 - stride)
    return sorted({int(round(x)) for x in np.linspace(0, last_start, count)})


def evaluate_planner(
    planner: VideoPlanner,
    heldout: str | Path,
    train_dataset: str | Path | None,
    settings: EvalSettings,
    show_progress: bool = True,
    planner_variants: dict[str, dict] | None = None,
    baselines: bool = True,
) -> dict:
    """Per-task mean PSNR/SSIM of every method. Returns {"methods": [...], "tasks": {task: {method: {...}}}}.

    `planner_variants` maps column names to plan() keyword arguments (default: `settings.planner_variants()`);
    every variant plans each clip from the same seed, so their differences are paired. The first variant's
    plans go into the sample grid.
    """
    config = planner.config
    score_size = config.image_size if settings.score_size is None else settings.score_size
    if score_size < SSIM_WINDOW or config.image_size % score_size:
        raise InputError(
            f"score_size {score_size} must divide the planner's image size {config.image_size} and be at least "
            f"{SSIM_WINDOW} px (SSIM's window): frames are scored area-downsampled, never upsampled"
        )
    bank = FrameBank.load(heldout, config.image_size, show_progress=show_progress)
    variants = planner_variants or settings.planner_variants()
    methods = dict(list(variants.items())[:1])
    mean_frame = None
    if baselines:
        methods |= {"repeat first frame": None, "autoencoder round trip": None}
        if train_dataset is not None:
            train_frames = FrameBank.load(train_dataset, config.image_size, show_progress=show_progress).frames
            mean_frame = train_frames.double().mean(0).round().byte().permute(1, 2, 0).numpy()  # (H, W, 3)
            methods["mean training frame"] = None
    methods |= dict(list(variants.items())[1:])
    pixels = object_pixels(heldout, bank, score_size)
    window = settings.object_half_width(score_size)
    scores = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    truth_samples, plan_samples = [], []
    clips = [
        (e, t)
        for e in range(len(bank.lengths))
        for t in _clip_starts(bank, e, settings.clips_per_episode, config.frame_stride)
    ]
    for i, (episode, t) in enumerate(tqdm(clips, desc="eval planner", disable=not show_progress)):
        index, _ = bank.clip_indices(episode, t, config.num_future_frames, config.frame_stride)
        frames = bank.frames[torch.from_numpy(index)].permute(0, 2, 3, 1).numpy()  # (K+1, H, W, 3)
        first, future = frames[0], frames[1:]
        instruction = bank.instructions[episode]
        task = task_of_instruction(instruction)
        predictions = {}
        for name, kwargs in methods.items():
            if name == "repeat first frame":
                predictions[name] = np.repeat(first[None], len(future), axis=0)
            elif name == "mean training frame":
                predictions[name] = np.repeat(mean_frame[None], len(future), axis=0)
            elif name == "autoencoder round trip":
                latents = planner.encode_frames(torch.from_numpy(future).permute(0, 3, 1, 2))
                predictions[name] = planner.decode_latents(latents).permute(0, 2, 3, 1).numpy()
            else:
                predictions[name] = planner.plan(first, instruction, seed=settings.seed + i, **kwargs).frames
        scored_future = resize_images(future, score_size)  # (K, s, s, 3)
        for name, prediction in predictions.items():
            prediction = resize_images(prediction, score_size)
            scores[task][name]["psnr"].append(psnr(prediction, scored_future))
            scores[task][name]["ssim"].append(ssim(prediction, scored_future))
            if pixels is not None:
                around = object_psnr(prediction, scored_future, pixels[index[1:]], window)
                if around is not None:
                    scores[task][name]["object_psnr"].append(around)
        if t == 0 and len(truth_samples) < settings.sample_clips:
            truth_samples.append(frames)
            plan_samples.append(np.concatenate([first[None], predictions[next(iter(variants))]]))
    tasks = {
        task: {
            name: {metric: float(np.mean(values)) for metric, values in by_metric.items()}
            for name, by_metric in by_method.items()
        }
        for task, by_method in sorted(scores.items())
    }
    return {
        "methods": list(methods),
        "clips": len(clips),
        "score_size": score_size,
        "tasks": tasks,
        "samples": (truth_samples, plan_samples),
    }


def task_means(result: dict, metrics: tuple[str, ...] = ("psnr", "ssim")) -> dict[str, dict[str, float]]:
    """Each method's `metrics` averaged over tasks (every task weighs the same)."""
    tasks = result["tasks"].values()
    return {m: {k: float(np.mean([t[m][k] for t in tasks])) for k in metrics} for m in result["methods"]}


def markdown_table(result: dict) -> str:
    """Per task and method: PSNR / SSIM, and the object window's PSNR when the demos record MetaWorld's state."""
    methods = result["methods"]
    metrics = scored_metrics(result)
    with_object = "object_psnr" in metrics
    metric = "PSNR / SSIM / object PSNR" if with_object else "PSNR / SSIM"
    header = "| task | " + " | ".join(f"{m} {metric}" for m in methods) + " |"
    lines = [header, "|---|" + "---|" * len(methods)]

    def cell(scores: dict) -> str:
        text = f"{scores['psnr']:.2f} / {scores['ssim']:.3f}"
        return f"{text} / {scores['object_psnr']:.2f}" if with_object else text

    for task, by_method in result["tasks"].items():
        lines.append(f"| {task} | " + " | ".join(cell(by_method[m]) for m in methods) + " |")
    means = task_means(result, metrics)
    lines.append("| **mean** | " + " | ".join(cell(v) for v in means.values()) + " |")
    return "\n".join(lines)


def comparison_table(result: dict, baseline: str) -> str:
    """Mean PSNR/SSIM per method, its difference to `baseline`, the worst task's PSNR difference, and the object
    window's PSNR and its difference when the demos record MetaWorld's state."""
    metrics = scored_metrics(result)
    with_object = "object_psnr" in metrics
    means = task_means(result, metrics)
    header = f"| method | PSNR | SSIM | ΔPSNR vs {baseline} | ΔSSIM | worst task ΔPSNR |"
    lines = [header + (" object PSNR | Δobject PSNR |" if with_object else ""), "|---|---|---|---|---|---|"]
    lines[1] += "---|---|" if with_object else ""
    for method in result["methods"]:
        worst = min(t[method]["psnr"] - t[baseline]["psnr"] for t in result["tasks"].values())
        d_psnr = means[method]["psnr"] - means[baseline]["psnr"]
        d_ssim = means[method]["ssim"] - means[baseline]["ssim"]
        line = (
            f"| {method} | {means[method]['psnr']:.2f} | {means[method]['ssim']:.3f} | {d_psnr:+.2f} dB "
            f"| {d_ssim:+.3f} | {worst:+.2f} dB |"
        )
        if with_object:
            d_object = means[method]["object_psnr"] - means[baseline]["object_psnr"]
            line += f" {means[method]['object_psnr']:.2f} | {d_object:+.2f} dB |"
        lines.append(line)
    return "\n".join(lines)


def scored_metrics(result: dict) -> tuple[str, ...]:
    """PSNR and SSIM, and the object window's PSNR when every method has it on every task (demos that record
    MetaWorld's state)."""
    with_object = all("object_psnr" in t[m] for t in result["tasks"].values() for m in result["methods"])
    return ("psnr", "ssim", "object_psnr") if with_object else ("psnr", "ssim")


def write_report(result: dict, output: Path) -> None:
    """Writes table.md, results.json, samples.gif (ground truth left, plan right) and samples.png (per clip,
    recorded frames above planned ones) into `output`."""
    output.mkdir(parents=True, exist_ok=True)
    (output / "table.md").write_text(markdown_table(result) + "\n")
    public = {k: v for k, v in result.items() if k != "samples"}
    (output / "results.json").write_text(json.dumps(public, indent=2))
    truth, plans = result["samples"]
    if truth:
        write_sample_gif(output / "samples.gif", truth, plans)
        write_sample_sheet(output / "samples.png", truth, plans)
