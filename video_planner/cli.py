"""The `vp` command: one subcommand per job.

    vp collect --recipe datasets/metaworld_avdc11.toml [--output outputs/datasets/metaworld_avdc11]
    vp summary outputs/datasets/metaworld_avdc11 [--verify]
    vp train-planner --dataset outputs/datasets/metaworld_avdc11 --preset cpu --output outputs/planner/avdc11-cpu
    vp plan --planner outputs/planner/avdc11-cpu/checkpoint --image first.png --instruction "open the door"
    vp encode --dataset outputs/datasets/metaworld_mt50_prior --planner DIR --output outputs/shards/mt50
    vp pretrain --shards outputs/shards/mt50 --output outputs/planner/mt50-pretrained   # or under torchrun
    vp eval-planner --planner outputs/planner/avdc11-cpu/checkpoint --dataset outputs/datasets/metaworld_avdc11_heldout
    vp train-success --dataset outputs/datasets/metaworld_mt50_prior --output outputs/success/mt50
    vp score-success --detector outputs/success/mt50 --dataset outputs/eval/avdc11-recorded/rollouts
    vp sail --tasks drawer-close,reach-wall --planner ... --idm ... --filter learned --detector ... --output ...
    vp sail-step --rollouts outputs/daemon/so101 --planner ... --idm ... --detector ... --output ...
    vp export-lerobot --planner outputs/planner/avdc11-cpu/checkpoint --idm outputs/idm/avdc11/checkpoint \
        --output outputs/lerobot/avdc11      # then: lerobot-eval --policy.path=outputs/lerobot/avdc11 ...
    vp serve --planner outputs/planner/avdc11-cpu/checkpoint --idm outputs/idm/avdc11/checkpoint --port 8000
    vp daemon --robot.type=so101_follower --robot.port=/dev/ttyACM0 --planner http://gpu-box:8000 --idm ... \
        --output outputs/daemon/so101      # then: curl -X POST localhost:8100/start -d '{"instruction": ...}'

Bad input (unknown task or camera, missing dataset, typo'd recipe key) exits with status 2 and one
line on stderr that names the problem. Benchmarks are scripts of their own: `scripts/bench_*.py`.
"""

import argparse
import dataclasses
import logging
import os
import sys
import typing
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

from foundation.config_io import field_docs  # noqa: E402
from foundation.errors import InputError, exit_status  # noqa: E402


def _collect(args: argparse.Namespace) -> None:
    from robot_io.collect import collect
    from robot_io.dataset_summary import summarize
    from robot_io.recipe import CollectionRecipe

    recipe = CollectionRecipe.from_toml(args.recipe)
    output = args.output or Path("outputs/datasets") / recipe.name
    progress = collect(recipe, output, workers=args.workers)
    if not any(group.recorded for group in progress.values()):
        raise InputError(f"the experts failed every attempt of {recipe.name}; no dataset written to {output}")
    print(summarize(output))


def _summary(args: argparse.Namespace) -> None:
    from robot_io.dataset_summary import summarize
    from robot_io.dataset_verify import broken_episodes_line, verify_videos

    print(summarize(args.dataset))
    if args.verify:
        broken = verify_videos(args.dataset)
        if broken:
            raise InputError(broken_episodes_line(args.dataset, broken))
        print("verified: every episode's frames decode")


def _train_planner(args: argparse.Namespace) -> None:
    from video_planner.model.config import PlannerConfig, preset
    from video_planner.training.train import PlannerTrainer
    from video_planner.training.train_config import TrainConfig

    config = PlannerConfig.load(args.config) if args.config else preset(args.preset)
    train_config = TrainConfig(datasets=tuple(args.dataset), **_flag_values(args, TrainConfig))
    checkpoint = PlannerTrainer(config, train_config, args.output, resume=args.resume).run()
    print(f"planner checkpoint: {checkpoint}")


def _train_idm(args: argparse.Namespace) -> None:
    from inverse_dynamics.config import InverseDynamicsConfig
    from inverse_dynamics.train import InverseDynamicsTrainer
    from inverse_dynamics.train_config import IDMTrainConfig
    from robot_io.dataset_io import dataset_dimensions

    model_values = _flag_values(args, InverseDynamicsConfig)
    train_config = IDMTrainConfig(datasets=tuple(args.dataset), **_flag_values(args, IDMTrainConfig))
    if args.init_from:
        from inverse_dynamics.model import InverseDynamics

        if model_values:
            raise InputError(
                "--image-size, --chunk-size and the action bounds come from the --init-from model; drop them"
            )
        model_config = InverseDynamics.from_pretrained(args.init_from).config
    else:  # the state and action sizes are the data's robot's
        model_config = InverseDynamicsConfig(**(dataset_dimensions(args.dataset) | model_values))
    checkpoint = InverseDynamicsTrainer(model_config, train_config, args.output, resume=args.resume).run()
    print(f"inverse-dynamics checkpoint: {checkpoint}")


def _eval_idm(args: argparse.Namespace) -> None:
    from inverse_dynamics.evaluate import evaluate_idm, markdown_table
    from inverse_dynamics.model import InverseDynamics

    result = evaluate_idm(InverseDynamics.from_pretrained(args.idm), args.dataset, show_progress=True)
    print(markdown_table(result))
    print(f"{result['chunks']} action chunks")


def _eval(args: argparse.Namespace) -> None:
    from foundation.provenance import run_record
    from inverse_dynamics.model import InverseDynamics
    from robot_io.scene_seeds import FIRST_SEEDS, check_closed_loop_seeds
    from video_planner.control.closed_loop_eval import evaluate_control, markdown_table
    from video_planner.control.settings import ControlEvalSettings
    from video_planner.model.loading import load_planner, resolve_device
    from video_planner.model.oracle_planner import Oracle
    from video_planner.model.planner_source import PlannerSource

    values = _flag_values(args, ControlEvalSettings)
    if args.selection and args.for_training:
        raise InputError("--selection scores, --for-training records data to train on; give one of them")
    if args.for_training and not args.record:
        raise InputError("--for-training records rollouts to train on; add --record")
    role = "selection" if args.selection else "training" if args.for_training else "evaluation"
    if role != "evaluation":
        values.setdefault("first_seed", FIRST_SEEDS[role])
    settings = ControlEvalSettings(**values)
    check_closed_loop_seeds(settings.first_seed, len(settings.cameras), role)
    source = PlannerSource(**_flag_values(args, PlannerSource))
    if source.planner == Oracle.name and (source.prior or source.sampling_steps or source.guidance_scale):
        raise InputError(
            "--prior, --sampling-steps and --guidance-scale apply to a trained planner, not to --planner oracle"
        )
    planner = Oracle() if source.planner == Oracle.name else load_planner(source)
    idm = InverseDynamics.from_pretrained(args.idm).to(resolve_device(source.device))
    provenance = run_record(["vp", *args.argv])
    summary = evaluate_control(planner, idm, settings, args.output, record=args.record, provenance=provenance)
    print(markdown_table(summary))
    print(f"table.md, results.json, results.csv in {args.output}")


def _sail(args: argparse.Namespace) -> None:
    from video_planner.sail.loop import run_sail
    from video_planner.sail.settings import SailSettings

    report = run_sail(SailSettings(**_flag_values(args, SailSettings)), args.output)
    print(report.read_text())
    print(f"report: {report}")


def _sail_step(args: argparse.Namespace) -> None:
    from video_planner.sail.recorded_step import run_sail_step
    from video_planner.sail.settings import SailStepSettings

    step = run_sail_step(SailStepSettings(**_flag_values(args, SailStepSettings)), args.output)
    kept = step["filter"]
    print(f"kept {kept['kept']} of {kept['rollouts']} rollouts ({kept['filter']} filter)")
    for model in ("planner", "idm"):
        print(f"{model}: {step['models'][model]}")


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

    from foundation.camera_image import check_camera_image, read_image_file
    from foundation.video_io import check_video_output, write_video
    from video_planner.model.planner import VideoPlanner, check_plan_request

    image = check_camera_image(read_image_file(args.image))
    check_plan_request(args.instruction, steps=args.steps, guidance=args.guidance)
    check_video_output(args.output, args.fps)
    planner = VideoPlanner.from_pretrained(args.planner)
    plan = planner.plan(image, args.instruction, steps=args.steps, seed=args.seed, guidance=args.guidance)
    write_video(args.output, np.concatenate([plan.context_frame[None], plan.frames]), fps=args.fps)
    print(f"{len(plan.frames)} frames in {plan.latency_s:.2f} s ({plan.sampler}, {plan.steps} steps) -> {args.output}")


def _encode(args: argparse.Namespace) -> None:
    from video_planner.model.planner import VideoPlanner
    from video_planner.training.encode_shards import encode_datasets

    planner = VideoPlanner.from_pretrained(args.planner)
    manifest = encode_datasets(planner, args.dataset, args.output, args.clips_per_shard)
    print(
        f"{manifest['clips']} clips of {manifest['frames']} frames in {len(manifest['shards'])} shards: {args.output}"
    )


def _pretrain(args: argparse.Namespace) -> None:
    from video_planner.model.config import PlannerConfig
    from video_planner.training.pretrain import ShardPretrainer
    from video_planner.training.pretrain_config import PretrainConfig

    config = PretrainConfig(**_flag_values(args, PretrainConfig))
    planner_config = PlannerConfig.load(args.config) if args.config else None
    trainer = ShardPretrainer(config, args.output, planner_config, resume=args.resume)
    try:
        checkpoint = trainer.run()
    finally:
        trainer.processes.close()
    if trainer.processes.is_main:
        print(f"planner: {checkpoint} (VideoPlanner.from_pretrained reads it)")


def _eval_planner(args: argparse.Namespace) -> None:
    from foundation.provenance import run_record
    from video_planner.model.loading import load_planner
    from video_planner.model.planner_source import PlannerSource
    from video_planner.training.evaluate import EvalSettings, evaluate_planner, markdown_table, write_report

    settings = EvalSettings(args.clips_per_episode, args.seed, args.reference_steps, score_size=args.score_size)
    planner = load_planner(PlannerSource(planner=args.planner, guidance_scale=args.guidance_scale, device="cpu"))
    result = evaluate_planner(planner, args.dataset, args.train_dataset, settings)
    result["run"] = run_record(["vp", *args.argv])  # what a table made from results.json names as its source
    write_report(result, args.output)
    print(markdown_table(result))
    print(f"{result['clips']} clips; table.md, results.json, samples.gif in {args.output}")


def _export_lerobot(args: argparse.Namespace) -> None:
    from video_planner.lerobot_policy.export import export_policy

    options = {"image_key": args.image_key, "replan_every": args.replan_every, "sampling_steps": args.sampling_steps}
    options = {key: value for key, value in options.items() if value is not None}
    policy = export_policy(
        args.planner, args.idm, args.output, seed=args.seed, task_descriptions=args.task_descriptions, **options
    )
    print(f"LeRobot policy '{policy.name}': {args.output}")
    if args.push_to_hub:
        print(f"pushed: {policy.push_to_hub(args.push_to_hub)}")


def _serve(args: argparse.Namespace) -> None:
    from video_planner.model.planner_source import PlannerSource
    from video_planner.serving.server import serve
    from video_planner.serving.settings import ServeSettings

    settings = ServeSettings(**_flag_values(args, ServeSettings))
    source = PlannerSource(**_flag_values(args, PlannerSource))
    if source.planner == "oracle":
        raise InputError("the oracle replays a simulator's expert and cannot be served; give a trained planner")
    serve(source, args.idm, settings)


def _daemon(args: argparse.Namespace) -> None:
    from video_planner.daemon.run import run_daemon
    from video_planner.daemon.settings import ControlSettings, DaemonSettings

    settings = DaemonSettings(**_flag_values(args, DaemonSettings))
    control = ControlSettings(**_flag_values(args, ControlSettings))
    options = dict(output=args.output, camera=args.camera, device=args.device, detector=args.detector)
    run_daemon(args.robot_flags, args.planner, args.idm, settings, control, **options)


def _flag_values(args: argparse.Namespace, cls) -> dict:
    """The dataclass fields given on the command line (list flags as tuples); fields left out keep the
    dataclass's defaults."""
    values = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(cls)}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if v is not None}


class _ListFlag(argparse.Action):
    """The one convention of every multi-value flag: repeat it, or separate values by commas, or both."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest) or [])
        items += [item for item in values.split(",") if item]
        setattr(namespace, self.dest, items)


def _list_flag(parser: argparse.ArgumentParser, flag: str, help: str, **kwargs) -> None:
    parser.add_argument(flag, action=_ListFlag, help=f"{help} (repeat the flag or separate values by commas)", **kwargs)


def _add_dataclass_flags(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """One --flag per dataclass field, documented by the comment beside the field and showing its default
    (defaults stay in the dataclass: a flag left out is None here; a field whose default is None says in its
    comment what leaving it unset means); a tuple field is a list flag, a Literal field lists its choices."""
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag, kind = f"--{f.name.replace('_', '-')}", hints[f.name]
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        interval = f.metadata.get("range")
        notes = [f"in {interval.text}"] if interval else []
        notes += [] if required or f.default is None else [f"default: {_shown(f.default)}"]
        help_text = f"{docs[f.name]} ({'; '.join(notes)})" if notes else docs[f.name]
        help_text = help_text.replace("%", "%%")
        if typing.get_origin(kind) is tuple:
            _list_flag(parser, flag, help_text, dest=f.name, required=required)
        elif kind is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, help=help_text)
        elif typing.get_origin(kind) is typing.Literal:
            parser.add_argument(flag, dest=f.name, choices=typing.get_args(kind), required=required, help=help_text)
        else:
            kinds = [t for t in typing.get_args(kind) if t is not type(None)] or [kind]  # X | None -> X
            parse = kinds[0] if kinds[0] in (int, float, str) else str
            parser.add_argument(flag, dest=f.name, type=parse, required=required, help=help_text)


def _shown(default) -> str:
    """A default as a user types it: lists comma-separated."""
    return ",".join(map(str, default)) or "none" if isinstance(default, tuple) else str(default)


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse with the project's error rule: a bad or missing flag is one line on stderr and exit status 2
    (argparse's own usage block would make it a dozen)."""

    def error(self, message: str) -> typing.NoReturn:
        print(f"error: {self.prog}: {message}; see `{self.prog} --help`", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="vp", description="video-planner: plan robot actions by imagining video.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("collect", help="record scripted-expert demos as a LeRobotDataset (resumable)")
    p.add_argument("--recipe", required=True, type=Path, help="recipe TOML, e.g. datasets/metaworld_avdc11.toml")
    p.add_argument("--output", type=Path, help="dataset directory (default: outputs/datasets/<recipe name>)")
    p.add_argument(
        "--workers", type=int, default=1, help="attempts run at once in Ray worker processes; same dataset (default: 1)"
    )
    p.set_defaults(run=_collect)

    p = sub.add_parser("summary", help="print what a dataset holds per task and how the experts fared")
    p.add_argument("dataset", type=Path, help="a LeRobot dataset directory")
    p.add_argument("--verify", action="store_true", help="also decode every video and name the damaged episodes")
    p.set_defaults(run=_summary)

    p = sub.add_parser("train-planner", help="train the video planner (autoencoder, then denoiser); resumable")
    from video_planner.model.config import PRESETS
    from video_planner.training.train_config import TrainConfig

    _list_flag(p, "--dataset", "LeRobot datasets whose episodes are pooled", required=True)
    _add_dataclass_flags(p, TrainConfig, skip=("datasets",))
    p.add_argument("--output", required=True, type=Path, help="run directory; the planner lands in <output>/checkpoint")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--preset", default="cpu", choices=PRESETS, help="the planner architecture (default: cpu; see docs/design.md)"
    )
    group.add_argument("--config", type=Path, help="a planner config.json instead of a preset")
    p.add_argument("--resume", action="store_true", help="continue the run in --output from its last checkpoint")
    p.set_defaults(run=_train_planner)

    p = sub.add_parser("train-idm", help="train the inverse-dynamics model on recorded rollouts; resumable")
    from inverse_dynamics.train_config import IDMTrainConfig

    _list_flag(p, "--dataset", "LeRobot datasets whose episodes are pooled", required=True)
    _add_dataclass_flags(p, IDMTrainConfig, skip=("datasets",))
    from inverse_dynamics.config import TRAINING_FLAG_FIELDS, InverseDynamicsConfig

    model_fields = {f.name for f in dataclasses.fields(InverseDynamicsConfig)} - set(TRAINING_FLAG_FIELDS)
    _add_dataclass_flags(p, InverseDynamicsConfig, skip=tuple(model_fields))  # without --init-from
    p.add_argument("--output", required=True, type=Path, help="run directory; the model lands in <output>/checkpoint")
    p.add_argument("--resume", action="store_true", help="continue the run in --output from its last checkpoint")
    p.set_defaults(run=_train_idm)

    p = sub.add_parser("eval-idm", help="action error per task on held-out rollouts vs predicting the mean action")
    p.add_argument("--idm", required=True, help="inverse-dynamics directory or Hub repo id")
    _list_flag(p, "--dataset", "held-out datasets", required=True)
    p.set_defaults(run=_eval_idm)

    p = sub.add_parser("eval", help="closed-loop MetaWorld success per task (AVDC protocol); resumable")
    from video_planner.control.settings import ControlEvalSettings
    from video_planner.model.planner_source import PlannerSource

    _add_dataclass_flags(p, PlannerSource)
    _add_dataclass_flags(p, ControlEvalSettings)
    p.add_argument("--idm", required=True, help="inverse-dynamics directory or Hub repo id")
    p.add_argument(
        "--record", action="store_true", help="record every rollout into the LeRobotDataset <output>/rollouts"
    )
    p.add_argument(
        "--selection",
        action="store_true",
        help="score on the selection scenes (--first-seed defaults to 2000000 and must stay in them): choose "
        "settings here, report them on the evaluation scenes",
    )
    p.add_argument(
        "--for-training",
        action="store_true",
        help="record rollouts to train on, such as a success detector's labelled episodes (needs --record): "
        "--first-seed defaults to 5000000, and no scored or SAIL rollout scene may be used",
    )
    p.add_argument(
        "--output", type=Path, default=Path("outputs/eval"), help="results directory (default: outputs/eval)"
    )
    p.set_defaults(run=_eval)

    p = sub.add_parser("sail", help="self-improvement: rollouts, filter, fine-tune, evaluate; resumable")
    from video_planner.sail.settings import SailSettings

    _add_dataclass_flags(p, SailSettings)
    p.add_argument("--output", required=True, type=Path, help="run directory: iter_k/ folders and report.md")
    p.set_defaults(run=_sail)

    p = sub.add_parser("sail-step", help="one SAIL step on recorded rollouts (the daemon's): filter, fine-tune")
    from video_planner.sail.settings import SailStepSettings

    _add_dataclass_flags(p, SailStepSettings)
    p.add_argument("--output", required=True, type=Path, help="step directory: kept/, planner/, idm/, models.json")
    p.set_defaults(run=_sail_step)

    p = sub.add_parser("train-success", help="train the learned success filter on demos and labelled rollouts")
    from video_planner.sail.success_train_config import SuccessTrainConfig

    _list_flag(p, "--dataset", "demos or rollouts with outcomes", required=True)
    _list_flag(p, "--heldout", "datasets to print precision/recall on after training")
    p.add_argument("--image-size", type=int, default=64, help="the frames the detector sees (default: 64)")
    p.add_argument(
        "--ensemble-size",
        type=int,
        default=1,
        help="member nets, each trained from its own seed; P is their mean (default: 1)",
    )
    _add_dataclass_flags(p, SuccessTrainConfig)
    p.add_argument("--output", required=True, type=Path, help="detector directory")
    p.set_defaults(run=_train_success)

    p = sub.add_parser("score-success", help="a success detector's precision, recall and AUROC on labelled episodes")
    p.add_argument("--detector", required=True, help="detector directory or Hub repo id")
    _list_flag(p, "--dataset", "demos or rollouts with outcomes", required=True)
    p.add_argument(
        "--threshold", type=float, default=0.5, help="P(success) at or above which a verdict is 'solved' (default: 0.5)"
    )
    p.add_argument("--keep-fraction", type=float, help="verdicts as `vp sail --keep-fraction`: the top share per task")
    p.set_defaults(run=_score_success)

    p = sub.add_parser("plan", help="imagine a video plan from an image and an instruction")
    p.add_argument("--planner", required=True, help="planner directory or Hub repo id")
    p.add_argument("--image", required=True, type=Path, help="the camera image to plan from (PNG or JPEG, square)")
    p.add_argument("--instruction", required=True, help='what to do, e.g. "open the door"')
    p.add_argument("--output", type=Path, default=Path("plan.gif"), help="a .gif or .mp4 file (default: plan.gif)")
    p.add_argument("--steps", type=int, help="denoising steps (default: the planner config's)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: the planner config's)")
    p.add_argument("--seed", type=int, default=0, help="the plan's noise (default: 0)")
    p.add_argument("--fps", type=int, default=4, help="frames per second of the written video (default: 4)")
    p.set_defaults(run=_plan)

    p = sub.add_parser("encode", help="encode datasets once into latent shards for pretraining")
    _list_flag(p, "--dataset", "LeRobot datasets to encode", required=True)
    p.add_argument("--planner", required=True, help="planner directory whose latent space and text encoder encode")
    p.add_argument("--output", required=True, type=Path, help="shard directory: shard-*.safetensors, manifest.json")
    p.add_argument("--clips-per-shard", type=int, default=1000, help="clips per shard, whole episodes (default: 1000)")
    p.set_defaults(run=_encode)

    p = sub.add_parser("pretrain", help="train the denoiser from latent shards, on 1 or N processes; resumable")
    from video_planner.training.pretrain_config import PretrainConfig

    _add_dataclass_flags(p, PretrainConfig)
    p.add_argument("--output", required=True, type=Path, help="run directory; the planner lands in <output>/checkpoint")
    p.add_argument("--config", type=Path, help="planner config.json of the denoiser (default: the shards' own)")
    p.add_argument("--resume", action="store_true", help="continue the run in --output from its last checkpoint")
    p.set_defaults(run=_pretrain)

    p = sub.add_parser("eval-planner", help="future-frame PSNR/SSIM per task on held-out demos, with baselines")
    p.add_argument("--planner", required=True, help="planner directory or Hub repo id")
    p.add_argument("--dataset", required=True, type=Path, help="held-out demos (seeds never trained on)")
    p.add_argument("--train-dataset", type=Path, help="training demos, for the 'mean training frame' baseline")
    p.add_argument(
        "--output",
        type=Path,
        default=Path("outputs/eval-planner"),
        help="report directory (default: outputs/eval-planner)",
    )
    p.add_argument("--clips-per-episode", type=int, default=3, help="held-out clips scored per episode (default: 3)")
    p.add_argument(
        "--reference-steps", type=int, default=100, help="steps of the many-step reference; 0 skips it (default: 100)"
    )
    p.add_argument("--seed", type=int, default=0, help="the first clip's plan noise (default: 0)")
    p.add_argument(
        "--score-size",
        type=int,
        help="score frames area-downsampled to this size, a divisor of the planner's (64: as a 64 px IDM reads "
        "them, so planners of different resolutions compare on the same pixels); unset: the planner's size",
    )
    p.add_argument(
        "--guidance-scale",
        type=float,
        help="classifier-free guidance of every plan (1 turns it off; at least 1); unset: the planner config's",
    )
    p.set_defaults(run=_eval_planner)

    p = sub.add_parser(
        "export-lerobot", help="write a planner and an IDM as a LeRobot policy (lerobot-eval, lerobot-rollout)"
    )
    from video_planner.control.settings import ReplanRule

    p.add_argument("--planner", required=True, help="planner directory or Hub repo id")
    p.add_argument("--idm", required=True, help="inverse-dynamics directory or Hub repo id")
    p.add_argument("--output", required=True, type=Path, help="the policy directory (written whole or not at all)")
    p.add_argument(
        "--image-key",
        help="the observation key of the camera the planner sees, e.g. observation.images.front "
        "(default: observation.image, LeRobot's MetaWorld camera)",
    )
    p.add_argument(
        "--replan-every",
        type=int,
        help=f"env steps between plans, a multiple of the IDM chunk size (default: {ReplanRule.replan_every})",
    )
    p.add_argument("--sampling-steps", type=int, help="denoising steps per plan (default: the planner config's)")
    p.add_argument("--seed", type=int, default=0, help="noise of the policy's plans, per episode and env (default: 0)")
    p.add_argument(
        "--task-descriptions",
        choices=("metaworld", "none"),
        default="metaworld",
        help="whose task strings map to the planner's instructions: LeRobot's MetaWorld env descriptions, or none "
        "(a --task reaches the planner as typed) (default: metaworld)",
    )
    p.add_argument("--push-to-hub", metavar="REPO_ID", help="also upload the policy to this Hub model repo")
    p.set_defaults(run=_export_lerobot)

    p = sub.add_parser("serve", help="the planning API: HTTP plans (and actions) for any robot stack")
    from video_planner.serving.settings import ServeSettings

    _add_dataclass_flags(p, PlannerSource)
    p.add_argument("--idm", help="inverse-dynamics directory or Hub repo id: requests with a state get actions")
    _add_dataclass_flags(p, ServeSettings)
    p.set_defaults(run=_serve)

    p = sub.add_parser(
        "daemon",
        help="run episodes on a robot from LeRobot's registry (--robot.type=... --robot.port=...) under HTTP control",
    )
    from video_planner.daemon.settings import ControlSettings, DaemonSettings

    p.add_argument("--planner", required=True, help="planner directory, Hub repo id, or a planning server's URL")
    p.add_argument("--idm", required=True, help="inverse-dynamics directory or Hub repo id, trained on this robot")
    p.add_argument("--camera", help="the robot camera to plan from (default: its only camera)")
    p.add_argument("--output", type=Path, help="record each episode into this LeRobotDataset (default: no recording)")
    p.add_argument("--device", help="where local models run (default: cuda when there is one, else cpu)")
    p.add_argument("--detector", help="a success detector whose estimate goes into each recorded episode's row")
    _add_dataclass_flags(p, DaemonSettings)
    _add_dataclass_flags(p, ControlSettings)
    p.set_defaults(run=_daemon)

    return parser


def _robot_flags(unknown: list[str]) -> list[str]:
    """The `--robot.*` flags (and their values) `vp daemon` passes to LeRobot's parser; anything else is refused."""
    stray = [
        arg
        for i, arg in enumerate(unknown)
        if not arg.startswith("--robot.")
        and not (i and unknown[i - 1].startswith("--robot.") and "=" not in unknown[i - 1])
    ]
    if stray:
        build_parser().error(f"unrecognized arguments: {' '.join(stray)}")
    return unknown


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    args.robot_flags = _robot_flags(unknown) if args.command == "daemon" else unknown
    if args.command != "daemon" and unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.argv = argv  # the command line, for the provenance of result files
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return exit_status(lambda: args.run(args))


if __name__ == "__main__":
    sys.exit(main())
