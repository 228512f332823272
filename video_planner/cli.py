"""The `vp` command: one subcommand per job.

    vp collect --recipe datasets/metaworld_avdc11.toml [--output outputs/datasets/metaworld_avdc11]
    vp summary outputs/datasets/metaworld_avdc11
    vp bench render [--image-size 64]
    vp bench collect [--recipe datasets/metaworld_avdc11.toml --episodes-per-camera 1]
    vp bench gpu [--random-weights]
    vp bench compose [--minilm-files DIR]
    vp train-planner --dataset outputs/datasets/metaworld_avdc11 --preset cpu --output outputs/planner/avdc11-cpu
    vp plan --planner outputs/planner/avdc11-cpu/checkpoint --image first.png --instruction "open the door"
    vp eval-planner --planner outputs/planner/avdc11-cpu/checkpoint --dataset outputs/datasets/metaworld_avdc11_heldout
    vp train-success --dataset outputs/datasets/metaworld_mt50_prior --output outputs/success/mt50
    vp score-success --detector outputs/success/mt50 --dataset outputs/eval/avdc11-recorded/rollouts
    vp sail --tasks drawer-close,reach-wall --planner ... --idm ... --filter learned --detector ... --output ...

Bad input (unknown task or camera, missing dataset, typo'd recipe key) exits with status 2 and one
line on stderr that names the problem.
"""

import argparse
import dataclasses
import logging
import os
import sys
import typing
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

from foundation.errors import InputError  # noqa: E402


def _collect(args: argparse.Namespace) -> None:
    from robot_io.collect import collect
    from robot_io.dataset_summary import summarize
    from robot_io.recipe import CollectionRecipe

    recipe = CollectionRecipe.from_toml(args.recipe)
    output = args.output or Path("outputs/datasets") / recipe.name
    progress = collect(recipe, output)
    if not any(group.recorded for group in progress.values()):
        raise InputError(f"the experts failed every attempt of {recipe.name}; no dataset written to {output}")
    print(summarize(output))


def _summary(args: argparse.Namespace) -> None:
    from robot_io.dataset_summary import summarize

    print(summarize(args.dataset))


def _bench(args: argparse.Namespace) -> None:
    if args.what == "render":
        from robot_io.bench import bench_render

        print(bench_render(args.task, args.camera, args.image_size, args.repeats))
    elif args.what == "collect":
        from robot_io.bench import bench_collect

        print(bench_collect(args.recipe, args.episodes_per_camera))
    elif args.what == "train-step":
        from video_planner.bench import bench_train_step

        print(bench_train_step())
    elif args.what == "plan":
        from video_planner.bench import bench_plan

        print(bench_plan())
    elif args.what == "plan-quality":
        from video_planner.bench_quality import bench_plan_quality

        print(bench_plan_quality(args.planner, args.dataset, args.clips_per_episode))
    elif args.what == "gpu":
        from video_planner.bench_gpu import bench_gpu, write_report

        report = bench_gpu(args.random_weights, args.minilm_files, args.train_batches, args.compile_batch)
        print(write_report(report, args.output))
    elif args.what == "compose":
        from video_planner.bench_compose import bench_compose, write_report

        print(write_report(bench_compose(args.minilm_files, args.steps, args.device), args.output))
    else:
        from video_planner.bench_quality import bench_objective

        print(
            bench_objective(args.init_from, args.dataset, args.heldout, args.output, args.steps, args.clips_per_episode)
        )


def _train_planner(args: argparse.Namespace) -> None:
    from video_planner.model.config import PlannerConfig, preset
    from video_planner.training.train import PlannerTrainer
    from video_planner.training.train_config import TrainConfig

    config = PlannerConfig.load(args.config) if args.config else preset(args.preset)
    train_config = TrainConfig(datasets=tuple(args.dataset), **_flag_values(args, TrainConfig, skip=("datasets",)))
    checkpoint = PlannerTrainer(config, train_config, args.output, resume=args.resume).run()
    print(f"planner checkpoint: {checkpoint}")


def _train_idm(args: argparse.Namespace) -> None:
    from inverse_dynamics.config import InverseDynamicsConfig
    from inverse_dynamics.train import InverseDynamicsTrainer
    from inverse_dynamics.train_config import IDMTrainConfig

    if args.init_from:
        from inverse_dynamics.model import InverseDynamics

        model_config = InverseDynamics.from_pretrained(args.init_from).config
    else:
        model_config = InverseDynamicsConfig(image_size=args.image_size, chunk_size=args.chunk_size)
    values = _flag_values(args, IDMTrainConfig, skip=("datasets",))
    train_config = IDMTrainConfig(datasets=tuple(args.dataset), **values)
    checkpoint = InverseDynamicsTrainer(model_config, train_config, args.output, resume=args.resume).run()
    print(f"inverse-dynamics checkpoint: {checkpoint}")


def _eval_idm(args: argparse.Namespace) -> None:
    from inverse_dynamics.evaluate import evaluate_idm, markdown_table
    from inverse_dynamics.model import InverseDynamics

    result = evaluate_idm(InverseDynamics.from_pretrained(args.idm), args.dataset, show_progress=True)
    print(markdown_table(result))
    print(f"{result['chunks']} action chunks")


def _eval(args: argparse.Namespace) -> None:
    from inverse_dynamics.model import InverseDynamics
    from video_planner.control.closed_loop_eval import ORACLE, ControlEvalSettings, evaluate_control, markdown_table
    from video_planner.model.composition import resolve_device

    settings = ControlEvalSettings(
        tasks=tuple(args.tasks.split(",")),
        cameras=tuple(args.cameras.split(",")),
        seeds_per_camera=args.seeds,
        first_seed=args.first_seed,
        max_episode_steps=args.max_episode_steps,
        replan_every=args.replan_every,
        videos=args.videos,
    )
    if args.planner == ORACLE and (args.prior or args.sampling_steps):
        raise InputError("--prior and --sampling-steps apply to a trained planner, not to --planner oracle")
    planner = args.planner if args.planner == ORACLE else _load_planner(args)
    idm = InverseDynamics.from_pretrained(args.idm).to(resolve_device(args.device))
    summary = evaluate_control(planner, idm, settings, args.output, record=args.record)
    print(markdown_table(summary))
    print(f"table.md, results.json, results.csv in {args.output}")


def _load_planner(args: argparse.Namespace):
    """--planner on --device, composed with --prior when one is given."""
    from video_planner.model.composition import load_planner

    composition = {"prior_strength": args.prior_strength}
    if args.composition_guidance is not None:
        composition["guidance"] = args.composition_guidance
    if args.prior is None:
        given = [f"--{k.replace('_', '-')}" for k, v in composition.items() if v is not None]
        if args.prior_motion_adapter or given:
            raise InputError(f"{', '.join(given) or '--prior-motion-adapter'} needs --prior, the prior to compose with")
        composition = {}
    return load_planner(
        args.planner,
        args.prior,
        args.mode,
        motion_adapter=args.prior_motion_adapter,
        sampling_steps=args.sampling_steps,
        device=args.device,
        **composition,
    )


def _add_prior_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prior",
        help="a video prior to compose the planner with: a planner directory, or a "
        "Stable Diffusion base with --prior-motion-adapter",
    )
    parser.add_argument("--prior-motion-adapter", help="an AnimateDiff motion adapter (Hub id or directory)")
    parser.add_argument("--mode", default="ipa", help="how to compose with --prior: pa or ipa (default: ipa)")
    parser.add_argument("--prior-strength", type=float, help="γ of the composition (default: pa 0.1, ipa 0.5)")
    parser.add_argument("--composition-guidance", type=float, help="α of the composition (default: 2.5)")


def _sail(args: argparse.Namespace) -> None:
    from video_planner.sail.loop import run_sail
    from video_planner.sail.settings import SailSettings

    values = _flag_values(args, SailSettings)
    values["tasks"] = tuple(args.tasks.split(","))
    if args.cameras is not None:
        values["cameras"] = tuple(args.cameras.split(","))
    report = run_sail(SailSettings(**values), args.output)
    print(report.read_text())
    print(f"report: {report}")


def _train_success(args: argparse.Namespace) -> None:
    from robot_io.frame_bank import FrameBank
    from video_planner.sail.success_detector import SuccessDetectorConfig
    from video_planner.sail.success_train_config import SuccessTrainConfig
    from video_planner.sail.train_success import train_success_detector

    config = SuccessDetectorConfig(image_size=args.image_size, ensemble_size=args.ensemble_size)
    train_config = SuccessTrainConfig(**_flag_values(args, SuccessTrainConfig))
    bank = FrameBank.merge([FrameBank.load(d, config.image_size) for d in args.dataset])
    detector = train_success_detector(bank, config, train_config)
    detector.save_pretrained(args.output)
    print(f"success detector: {args.output}")
    for heldout in args.heldout or []:
        _print_detection_scores(heldout, detector, [heldout], threshold=0.5)


def _score_success(args: argparse.Namespace) -> None:
    from video_planner.sail.success_detector import SuccessDetector

    detector = SuccessDetector.from_pretrained(args.detector)
    _print_detection_scores(" + ".join(args.dataset), detector, args.dataset, args.threshold, args.keep_fraction)


def _print_detection_scores(
    name: str, detector, datasets: list[str], threshold: float, keep_fraction: float | None = None
) -> None:
    """One line for all episodes of `datasets`, then one per task."""
    from robot_io.frame_bank import FrameBank
    from video_planner.sail.train_success import detection_scores

    bank = FrameBank.merge([FrameBank.load(d, detector.config.image_size) for d in datasets])
    scores = detection_scores(detector, bank, threshold, keep_fraction)
    print(f"{name}: {_scores_line(scores)}")
    for task, task_scores in scores["per_task"].items():
        print(f"    {task}: {_scores_line(task_scores)}")


def _scores_line(scores: dict) -> str:
    return ", ".join(f"{k} {v:.3g}" for k, v in scores.items() if k != "per_task" and v is not None)


def _plan(args: argparse.Namespace) -> None:
    import numpy as np
    from PIL import Image

    from foundation.video_io import write_video
    from video_planner.model.planner import VideoPlanner

    if not args.image.is_file():
        raise InputError(f"image {args.image} does not exist")
    image = np.asarray(Image.open(args.image).convert("RGB"))
    planner = VideoPlanner.from_pretrained(args.planner)
    plan = planner.plan(image, args.instruction, steps=args.steps, seed=args.seed, guidance=args.guidance)
    write_video(args.output, np.concatenate([plan.context_frame[None], plan.frames]), fps=args.fps)
    print(f"{len(plan.frames)} frames in {plan.latency_s:.2f} s ({plan.sampler}, {plan.steps} steps) -> {args.output}")


def _eval_planner(args: argparse.Namespace) -> None:
    from video_planner.model.planner import VideoPlanner
    from video_planner.training.evaluate import EvalSettings, evaluate_planner, markdown_table, write_report

    settings = EvalSettings(args.clips_per_episode, args.seed, args.reference_steps)
    result = evaluate_planner(VideoPlanner.from_pretrained(args.planner), args.dataset, args.train_dataset, settings)
    write_report(result, args.output)
    print(markdown_table(result))
    print(f"{result['clips']} clips; table.md, results.json, samples.gif in {args.output}")


def _flag_values(args: argparse.Namespace, cls, skip: tuple[str, ...] = ()) -> dict:
    """The dataclass fields given on the command line (repeated flags as tuples)."""
    values = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(cls) if f.name not in skip}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if v is not None}


def _add_dataclass_flags(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """One --flag per dataclass field (defaults stay in the dataclass, so flags left out are None); a tuple
    field is a flag to repeat."""
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = f"--{f.name.replace('_', '-')}"
        if typing.get_origin(f.type) is tuple:
            parser.add_argument(flag, dest=f.name, action="append", help="one value; repeat the flag for more")
            continue
        if f.type is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, help=f"default: {f.default}")
            continue
        kinds = [t for t in typing.get_args(f.type) if t is not type(None)] or [f.type]  # X | None -> X
        kind = kinds[0] if kinds[0] in (int, float, str) else str
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        help_text = None if required else f"default: {f.default}"
        parser.add_argument(flag, dest=f.name, type=kind, required=required, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vp", description="video-planner: plan robot actions by imagining video.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("collect", help="record scripted-expert demos as a LeRobotDataset (resumable)")
    p.add_argument("--recipe", required=True, type=Path, help="recipe TOML, e.g. datasets/metaworld_avdc11.toml")
    p.add_argument("--output", type=Path, help="dataset directory (default: outputs/datasets/<recipe name>)")
    p.set_defaults(run=_collect)

    p = sub.add_parser("summary", help="print what a dataset holds per task and how the experts fared")
    p.add_argument("dataset", type=Path)
    p.set_defaults(run=_summary)

    p = sub.add_parser("train-planner", help="train the video planner (autoencoder, then denoiser); resumable")
    from video_planner.training.train_config import TrainConfig

    p.add_argument("--dataset", required=True, action="append", type=str, help="a LeRobot dataset; repeat for more")
    _add_dataclass_flags(p, TrainConfig, skip=("datasets",))
    p.add_argument("--output", required=True, type=Path, help="run directory; the planner lands in <output>/checkpoint")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--preset", default="cpu", choices=("cpu", "gpu", "gpu-animatediff"))
    group.add_argument("--config", type=Path, help="a planner config.json instead of a preset")
    p.add_argument("--resume", action="store_true", help="continue the run in --output from its last checkpoint")
    p.set_defaults(run=_train_planner)

    p = sub.add_parser("train-idm", help="train the inverse-dynamics model on recorded rollouts; resumable")
    from inverse_dynamics.train_config import IDMTrainConfig

    p.add_argument("--dataset", required=True, action="append", type=str, help="a LeRobot dataset; repeat for more")
    _add_dataclass_flags(p, IDMTrainConfig, skip=("datasets",))
    p.add_argument("--image-size", type=int, default=64, help="must match the planner's (ignored with --init-from)")
    p.add_argument(
        "--chunk-size", type=int, default=8, help="actions per target frame: the planner's frame stride (ditto)"
    )
    p.add_argument("--output", required=True, type=Path, help="run directory; the model lands in <output>/checkpoint")
    p.add_argument("--resume", action="store_true", help="continue the run in --output from its last checkpoint")
    p.set_defaults(run=_train_idm)

    p = sub.add_parser("eval-idm", help="action error per task on held-out rollouts vs predicting the mean action")
    p.add_argument("--idm", required=True, help="inverse-dynamics directory or Hub repo id")
    p.add_argument("--dataset", required=True, action="append", help="held-out dataset; repeat for more")
    p.set_defaults(run=_eval_idm)

    p = sub.add_parser("eval", help="closed-loop MetaWorld success per task (AVDC protocol); resumable")
    p.add_argument("--planner", required=True, help="planner directory, Hub repo id, or 'oracle' (expert frames)")
    p.add_argument("--idm", required=True, help="inverse-dynamics directory or Hub repo id")
    p.add_argument("--tasks", default="avdc11", help="'avdc11' or comma-separated MetaWorld task names")
    p.add_argument("--cameras", default="corner,corner2,corner3")
    p.add_argument("--seeds", type=int, default=25, help="scene seeds per camera")
    p.add_argument("--first-seed", type=int, default=1_000_000)
    p.add_argument("--max-episode-steps", type=int, default=500)
    p.add_argument("--replan-every", type=int, default=24, help="env steps between plans")
    p.add_argument("--videos", action="store_true", help="an mp4 per rollout: execution next to the plan")
    p.add_argument(
        "--record", action="store_true", help="record every rollout into the LeRobotDataset <output>/rollouts"
    )
    p.add_argument("--output", type=Path, default=Path("outputs/eval"))
    p.add_argument("--sampling-steps", type=int, help="sampling steps per plan (default: the planner config's)")
    p.add_argument("--device", help="where the models run (default: cuda when there is one, else cpu)")
    _add_prior_flags(p)
    p.set_defaults(run=_eval)

    p = sub.add_parser("sail", help="self-improvement: rollouts, filter, fine-tune, evaluate; resumable")
    from video_planner.sail.settings import SailSettings

    p.add_argument("--tasks", required=True, help="comma-separated MetaWorld tasks, e.g. unseen ones")
    p.add_argument("--cameras", help="comma-separated cameras (default: corner,corner2,corner3)")
    _add_dataclass_flags(p, SailSettings, skip=("tasks", "cameras"))
    p.add_argument("--output", required=True, type=Path, help="run directory: iter_k/ folders and report.md")
    p.set_defaults(run=_sail)

    p = sub.add_parser("train-success", help="train the learned success filter on demos and labelled rollouts")
    from video_planner.sail.success_train_config import SuccessTrainConfig

    p.add_argument("--dataset", required=True, action="append", help="demos or rollouts with outcomes; repeat")
    p.add_argument("--heldout", action="append", help="print precision/recall on this dataset; repeat")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument(
        "--ensemble-size", type=int, default=1, help="member nets, each trained from its own seed; P is their mean"
    )
    _add_dataclass_flags(p, SuccessTrainConfig)
    p.add_argument("--output", required=True, type=Path, help="detector directory")
    p.set_defaults(run=_train_success)

    p = sub.add_parser("score-success", help="a success detector's precision, recall and AUROC on labelled episodes")
    p.add_argument("--detector", required=True, help="detector directory or Hub repo id")
    p.add_argument("--dataset", required=True, action="append", help="demos or rollouts with outcomes; repeat")
    p.add_argument("--threshold", type=float, default=0.5, help="P(success) at or above which a verdict is 'solved'")
    p.add_argument("--keep-fraction", type=float, help="verdicts as `vp sail --keep-fraction`: the top share per task")
    p.set_defaults(run=_score_success)

    p = sub.add_parser("plan", help="imagine a video plan from an image and an instruction")
    p.add_argument("--planner", required=True, help="planner directory or Hub repo id")
    p.add_argument("--image", required=True, type=Path)
    p.add_argument("--instruction", required=True)
    p.add_argument("--output", type=Path, default=Path("plan.gif"), help=".gif or .mp4")
    p.add_argument("--steps", type=int)
    p.add_argument("--guidance", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=int, default=4)
    p.set_defaults(run=_plan)

    p = sub.add_parser("eval-planner", help="future-frame PSNR/SSIM per task on held-out demos, with baselines")
    p.add_argument("--planner", required=True, help="planner directory or Hub repo id")
    p.add_argument("--dataset", required=True, type=Path, help="held-out demos (seeds never trained on)")
    p.add_argument("--train-dataset", type=Path, help="training demos, for the 'mean training frame' baseline")
    p.add_argument("--output", type=Path, default=Path("outputs/eval-planner"))
    p.add_argument("--clips-per-episode", type=int, default=3)
    p.add_argument("--reference-steps", type=int, default=100, help="0 skips the many-step reference")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_eval_planner)

    p = sub.add_parser("bench", help="benchmarks: rendering, collection, training, planning speed and quality")
    bench = p.add_subparsers(dest="what", required=True)
    r = bench.add_parser("render", help="gymnasium render() vs FastRenderer, same run")
    r.add_argument("--task", default="door-open")
    r.add_argument("--camera", default="corner")
    r.add_argument("--image-size", type=int, default=64)
    r.add_argument("--repeats", type=int, default=50)
    c = bench.add_parser("collect", help="episodes per minute for a recipe")
    c.add_argument("--recipe", type=Path, default=Path("datasets/metaworld_avdc11.toml"))
    c.add_argument("--episodes-per-camera", type=int, help="override the recipe's demos per camera")
    bench.add_parser("train-step", help="cpu-preset train step vs a diffusers UNet3D on pixels, same run")
    bench.add_parser("plan", help="plan latency per sampler and number of steps, vs DDIM-100")
    q = bench.add_parser("plan-quality", help="held-out quality per sampler/steps/decoding, vs DPM-Solver++ 100")
    q.add_argument("--planner", required=True, help="planner directory or Hub repo id")
    q.add_argument("--dataset", required=True, type=Path, help="held-out demos")
    q.add_argument("--clips-per-episode", type=int, default=1)
    o = bench.add_parser("objective", help="v-prediction vs epsilon, min-SNR vs plain MSE: train each, score each")
    o.add_argument("--init-from", required=True, help="planner directory whose autoencoder every run shares")
    o.add_argument("--dataset", required=True, type=Path, help="training demos")
    o.add_argument("--heldout", required=True, type=Path, help="held-out demos")
    o.add_argument("--output", type=Path, default=Path("outputs/bench-objective"))
    o.add_argument("--steps", type=int, default=1500)
    o.add_argument("--clips-per-episode", type=int, default=1)
    g = bench.add_parser("gpu", help="both presets on CUDA: train-step MFU, plan latency, reproducibility")
    g.add_argument("--random-weights", action="store_true", help="the presets' architectures with random weights")
    g.add_argument("--minilm-files", type=Path, help="MiniLM config.json + tokenizer files (with --random-weights)")
    g.add_argument("--train-batches", type=int, nargs="+", default=[8, 32, 128])
    g.add_argument("--compile-batch", type=int, help="also time `denoiser.compile()` (train at this batch, plan)")
    g.add_argument("--output", type=Path, default=Path("outputs/bench-gpu"))
    m = bench.add_parser("compose", help="plan latency alone vs PA / IPA with a planner or AnimateDiff prior, CUDA")
    m.add_argument("--minilm-files", type=Path, help="MiniLM config.json + tokenizer files (default: the package's)")
    m.add_argument("--steps", type=int, nargs="+", default=[10, 25], help="numbers of sampling steps to time")
    m.add_argument("--device", default="cuda", help="cpu only to try the script")
    m.add_argument("--output", type=Path, default=Path("outputs/bench-compose"))
    p.set_defaults(run=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        args.run(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
