"""The default models (`--planner default`, `--idm default`): a planner and an IDM shipped in the package in
fp16, each with a model card, replaced only by a pair whose `vp eval` figure is better.

    python scripts/default_models.py pack --planner outputs/planner/avdc11-cpu/checkpoint \
        --idm outputs/idm/avdc11/checkpoint --output outputs/default_candidate
    vp eval --tasks avdc11 --seeds 5 --planner outputs/default_candidate/planner \
        --idm outputs/default_candidate/idm --output outputs/eval/default_candidate
    python scripts/default_models.py ship --candidate outputs/default_candidate \
        --evaluation outputs/eval/default_candidate

`pack` stores the weights in fp16; the models still compute in fp32 (the rounded weights load into fp32
modules), so the evaluation scores exactly the weights that ship. `ship` checks that the evaluation ran these
weights (the digests in its `settings.json`) on the shipping protocol (AVDC-11, 3 cameras × 5 evaluation
scenes, AVDC's step limit and stop rule), refuses a pair that does not beat the shipped one, and otherwise
replaces both with their model cards, the evaluation, and one plan the tests check the shipped files against.

A model may be a run that started from another (`--init-from`, e.g. fine-tuning the shipped planner): `pack`
follows that chain back to a fresh run, through training records and shipped models' `training_stages.json`,
and the model card gives every run's command in order.
"""

import argparse
import dataclasses
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from foundation.atomic_dir import atomic_directory, write_text_atomic
from foundation.config_io import dataclass_to_dict, read_json
from foundation.errors import InputError, exit_status
from foundation.hub import weights_digest
from inverse_dynamics.config import TRAINING_FLAG_FIELDS, InverseDynamicsConfig
from inverse_dynamics.model import SHIPPED_IDM, InverseDynamics, idm_directory
from inverse_dynamics.train_config import IDMTrainConfig
from robot_io.envs import make_env
from robot_io.metaworld_tasks import instruction_for
from robot_io.scene_seeds import EVALUATION_FIRST_SEED, SEED_RANGES
from video_planner.control.closed_loop_eval import (
    RULED_SETTINGS,
    SETTINGS_BEFORE_THEY_EXISTED,
    markdown_table,
    planner_fingerprint,
    rate_text,
)
from video_planner.control.settings import ControlEvalSettings
from video_planner.model.checkpoint import SHIPPED_PLANNER, planner_directory
from video_planner.model.config import PRESETS, PlannerConfig, preset
from video_planner.model.planner import VideoPlanner
from video_planner.training.train_config import TrainConfig

SIZE_LIMIT_BYTES = 60_000_000  # both models together, every file of their directories
# the evaluation a shipped pair is scored by: AVDC-11, 3 cameras × 5 scenes, every other setting vp eval's default
SHIPPING_PROTOCOL = ControlEvalSettings(tasks=("avdc11",), seeds=5, first_seed=EVALUATION_FIRST_SEED)
PROTOCOL_FIELDS = ("tasks", "cameras", "seeds", *RULED_SETTINGS)
TRAINING_FILE = "training.json"  # in a candidate: each model's training runs, as its STAGES_FILE will hold them
STAGES_FILE = "training_stages.json"  # in a shipped model: the settings of each run that trained it, in order
EVALUATION_FILE = "evaluation.json"  # in the shipped planner's directory: the pair's `vp eval` results
EXPECTED_FILE, EXPECTED_IMAGE = "expected_plan.json", "expected_input.png"  # what tests/test_default_models.py checks
CHECK_SCENE = ("door-open", "corner", EVALUATION_FIRST_SEED)  # the scene of the checked plan
CHECK_PLAN_SEED = 0


def pack(planner_source: str | Path, idm_source: str | Path, output: Path) -> None:
    """The two models with their weights in fp16 (normalisation statistics stay fp32), as `output/planner` and
    `output/idm`, and their training settings (`training.json`, for the model cards), written together
    atomically."""
    planner = VideoPlanner.from_pretrained(planner_source)
    planner.denoiser.half()
    if not planner.config.autoencoder.pretrained:
        planner.autoencoder.half()
    idm = InverseDynamics.from_pretrained(idm_source)
    idm.net.half()
    with atomic_directory(output) as staging:
        planner.save_pretrained(staging / "planner")
        idm.save_pretrained(staging / "idm")
        training = {
            "planner": training_stages(planner_source, planner_directory),
            "idm": training_stages(idm_source, idm_directory),
        }
        write_text_atomic(staging / TRAINING_FILE, json.dumps(training, indent=2))
    print(f"packed into {output} ({directory_bytes(output) / 1e6:.1f} MB)")


def directory_bytes(*paths: Path) -> int:
    return sum(f.stat().st_size for path in paths for f in path.rglob("*") if f.is_file())


def checked_evaluation(evaluation: Path, planner: VideoPlanner, idm: InverseDynamics) -> dict:
    """The evaluation's results, refused in one line unless it ran exactly these weights on the shipping
    protocol, every episode finished."""
    settings = read_json(evaluation / "settings.json", {"planner": str, "idm": str})
    if settings["planner"] != planner_fingerprint(planner) or settings["idm"] != weights_digest(idm):
        raise InputError(f"{evaluation} evaluated other weights than the candidate's; run vp eval on the candidate")
    results = read_json(evaluation / "results.json", {"run": dict, "summary": dict, "episodes": list})
    ran = SETTINGS_BEFORE_THEY_EXISTED | results["run"]["settings"]
    wanted = dataclass_to_dict(SHIPPING_PROTOCOL)
    differing = [name for name in PROTOCOL_FIELDS if ran.get(name) != wanted[name]]
    if differing:
        raise InputError(
            f"{evaluation} differs from the shipping protocol in {', '.join(differing)}; "
            "run vp eval --tasks avdc11 --seeds 5 with the other settings left at their defaults"
        )
    if results["summary"]["episodes"] != len(SHIPPING_PROTOCOL.episodes()):
        raise InputError(f"{evaluation} is unfinished; rerun its vp eval command to complete it")
    return results


def shipped_mean(planner_target: Path) -> float | None:
    path = planner_target / EVALUATION_FILE
    return read_json(path, {"summary": dict})["summary"]["mean_success"] if path.is_file() else None


def expected_plan(planner: VideoPlanner, idm: InverseDynamics) -> tuple[np.ndarray, dict]:
    """The first frame of `CHECK_SCENE`, and what the models make of it: a few plan pixels and the IDM's first
    action chunk towards the plan's first frame."""
    task, camera, scene_seed = CHECK_SCENE
    with make_env(task, camera, planner.config.image_size) as env:
        observation = env.reset(scene_seed)
    instruction = instruction_for(task)
    middle = slice(planner.config.image_size // 2 - 2, planner.config.image_size // 2 + 2)
    plan = planner.plan(observation.image, instruction, seed=CHECK_PLAN_SEED)
    actions = idm.actions(observation.image, observation.state, plan.frames[0])  # (chunk, A)
    return observation.image, {
        "instruction": instruction,
        "image": EXPECTED_IMAGE,
        "state": observation.state.tolist(),
        "plan_seed": CHECK_PLAN_SEED,
        "plan_last_frame_center": plan.frames[-1, middle, middle, 0].tolist(),  # (4, 4) red channel
        "plan_mean": float(plan.frames.astype(np.float64).mean()),
        "idm_actions": actions.tolist(),
    }


def flag_words(name: str, value) -> list[str]:
    """`vp`'s flags for one setting: a list is its flag repeated, a bool is `--name` or `--no-name`."""
    flag = "--" + ("dataset" if name == "datasets" else name).replace("_", "-")
    if isinstance(value, bool):
        return [flag if value else f"--no-{flag[2:]}"]
    if isinstance(value, tuple):
        return [f"{flag} {item}" for item in value]
    return [f"{flag} {value}"]


def changed_flags(fields_of: type, settings: dict, names: tuple[str, ...] | None = None) -> list[str]:
    """The flags that give `settings` (a dataclass's fields, as JSON) wherever they differ from `fields_of`'s
    defaults (`vp`'s flags are those fields); `names` limits them to some fields."""
    words = []
    for f in dataclasses.fields(fields_of):
        if names is not None and f.name not in names:
            continue
        value = settings.get(f.name, f.default)
        value = tuple(value) if isinstance(value, list) else value
        if f.default is dataclasses.MISSING or value != f.default:
            words += flag_words(f.name, value)
    return words


def run_commands(head: Callable[[dict], list[str]], stages: list[dict], output: str) -> str:
    """The command lines of a model's training runs, first run first: `head` gives a run's program and flags,
    and each later run starts from the output of the one before it (`--init-from`)."""
    outputs = [f"{output}-stage{i + 1}" for i in range(len(stages) - 1)] + [output]
    commands = []
    for i, training in enumerate(stages):
        training = training | ({"init_from": outputs[i - 1]} if i else {})
        commands.append(" \\\n    ".join([*head(training), f"--output {outputs[i]}"]))
    return "\n".join(commands)


def planner_commands(config: PlannerConfig, stages: list[dict]) -> str:
    """The `vp train-planner` command lines of a planner's training runs and architecture."""
    name = next((name for name in PRESETS if preset(name) == config), None)
    shipped_config = (SHIPPED_PLANNER / "config.json").resolve().relative_to(Path(__file__).resolve().parents[1])
    architecture = f"--preset {name}" if name else f"--config {shipped_config}"
    return run_commands(
        lambda training: ["vp train-planner", *changed_flags(TrainConfig, training), architecture],
        stages,
        "outputs/planner/default",
    )


def idm_commands(config: InverseDynamicsConfig, stages: list[dict]) -> str:
    """The `vp train-idm` command lines of an IDM's training runs and the model fields it has flags for."""
    model = changed_flags(InverseDynamicsConfig, dataclass_to_dict(config), TRAINING_FLAG_FIELDS)
    return run_commands(
        lambda training: ["vp train-idm", *changed_flags(IDMTrainConfig, training), *model],
        stages,
        "outputs/idm/default",
    )


def runs_summary(stages: list[dict]) -> tuple[list[str], str, dict | list[dict]]:
    """For a model card: the datasets of a model's training runs, each named once; the words saying how many
    runs there were; the settings to print (one run's, or the list of them)."""
    datasets = list(dict.fromkeys(name for stage in stages for name in stage["datasets"]))
    if len(stages) == 1:
        return datasets, "", stages[0]
    return datasets, f" in {len(stages)} runs, each starting from the one before", stages


def planner_card(results: dict, stages: list[dict], config: PlannerConfig, size_mb: float) -> str:
    summary, run = results["summary"], results["run"]
    mean = rate_text(summary["mean_success"], summary["mean_stderr"])
    datasets, runs, settings = runs_summary(stages)
    return f"""---
tags: [robotics, video-diffusion, metaworld, video-planner]
---
# video-planner default planner (AVDC-11)

A text- and first-frame-conditioned latent video diffusion planner (`VideoPlanner`), trained on MetaWorld
expert demonstrations of AVDC's eleven tasks, with the inverse-dynamics model in
`inverse_dynamics/default_model` as its partner. Weights are stored in fp16 and load into fp32; the pair
together takes {size_mb:.1f} MB.

```python
from video_planner.model.planner import VideoPlanner
planner = VideoPlanner.from_pretrained("default")
```

`vp eval --planner default --idm default`, `vp serve --planner default`, `vp export-lerobot --planner default
--idm default` all take it by that name.

## Training

On {", ".join(f"`{name}`" for name in datasets)}{runs}, each dataset collected by
`vp collect --recipe datasets/<name>.toml` (scene seeds: {recipe_seeds(datasets)}):

```bash
{planner_commands(config, stages)}
```

Every training setting (each run's `trainer_state.json`; also `{STAGES_FILE}` here):

```json
{json.dumps(settings, indent=2)}
```

The planner's architecture and sampling settings are `config.json` here.

## Evaluation: AVDC-11 closed loop, {mean} mean success

`{run["command"]}` (commit {run["commit"]}), with this planner and the default IDM: {summary["episodes"]}
episodes, {len(SHIPPING_PROTOCOL.cameras)} cameras × {SHIPPING_PROTOCOL.seeds} evaluation scenes per task
from scene seed {SHIPPING_PROTOCOL.first_seed:,}, AVDC's 500-step limit and stop at first success. The whole
result is `{EVALUATION_FILE}`.

{markdown_table(summary)}
"""


def idm_card(results: dict, stages: list[dict], config: InverseDynamicsConfig) -> str:
    summary = results["summary"]
    mean = rate_text(summary["mean_success"], summary["mean_stderr"])
    datasets, runs, settings = runs_summary(stages)
    return f"""---
tags: [robotics, inverse-dynamics, metaworld, video-planner]
---
# video-planner default inverse-dynamics model (AVDC-11)

Turns the current camera frame, the end-effector state and a target frame into a chunk of actions
(`InverseDynamics`); the partner of the planner in `video_planner/default_model`. Weights are stored in fp16
and load into fp32.

```python
from inverse_dynamics.model import InverseDynamics
idm = InverseDynamics.from_pretrained("default")
```

## Training

On {", ".join(f"`{name}`" for name in datasets)}{runs}, each dataset collected by
`vp collect --recipe datasets/<name>.toml` (scene seeds: {recipe_seeds(datasets)}):

```bash
{idm_commands(config, stages)}
```
{unflagged_note(config)}
Every training setting (each run's `trainer_state.json`; also `{STAGES_FILE}` here):

```json
{json.dumps(settings, indent=2)}
```

## Evaluation

With the default planner, AVDC-11 closed loop: {mean} mean success
(`video_planner/default_model/{EVALUATION_FILE}` and its model card).
"""


def unflagged_note(config: InverseDynamicsConfig) -> str:
    """A line naming the IDM's architecture fields that differ from `vp train-idm`'s, which takes no flag for them."""
    from_data = {"state_dim", "action_dim", "config_version"}
    differing = [
        f.name
        for f in dataclasses.fields(config)
        if f.name not in (*TRAINING_FLAG_FIELDS, *from_data) and getattr(config, f.name) != f.default
    ]
    if not differing:
        return ""
    names = ", ".join(differing)
    return f"\nThese architecture fields are not `vp train-idm`'s and have no flag (see `config.json`): {names}.\n"


def recipe_seeds(datasets: list[str]) -> str:
    """Each dataset's recipe seed range from the seed registry, by the dataset folder's name."""
    ranges = {r.name.removeprefix("recipe "): r for r in SEED_RANGES if r.name.startswith("recipe ")}
    parts = []
    for dataset in datasets:
        name = Path(dataset).name
        claimed = ranges.get(name)
        parts.append(f"{name} [{claimed.first:,}, {claimed.end:,})" if claimed else f"{name} (no registered recipe)")
    return "; ".join(parts)


def training_settings(model_dir: Path) -> dict:
    return read_json(model_dir / "training_state" / "trainer_state.json", {"train_config": dict})["train_config"]


def training_stages(model: str | Path, directory_of: Callable[[str | Path], Path]) -> list[dict]:
    """The training settings of every run behind a model (a directory or `default`, which `directory_of`
    resolves, as it does `init_from`), first run first, from a training run's record or a shipped model's
    `training_stages.json`. A run that started from another model follows that model's own runs."""
    model_dir = directory_of(model)
    if not (model_dir / "training_state").is_dir():
        if not (model_dir / STAGES_FILE).is_file():
            raise InputError(
                f"cannot tell how {model_dir} was trained: it has no training_state/ nor {STAGES_FILE}; "
                "pack a training run's checkpoint or a shipped model"
            )
        stages = read_json(model_dir / STAGES_FILE)
        if not (isinstance(stages, list) and stages and all(isinstance(stage, dict) for stage in stages)):
            raise InputError(f"{model_dir / STAGES_FILE} is damaged (a list of training settings expected); restore it")
        return stages
    settings = training_settings(model_dir)
    start = settings.get("init_from")
    return [*(training_stages(start, directory_of) if start else []), settings]


def ship(candidate: Path, evaluation: Path, targets: tuple[Path, Path] = (SHIPPED_PLANNER, SHIPPED_IDM)) -> None:
    """Replaces the shipped models (`targets`: the planner's and the IDM's directories) by `candidate` when its
    evaluation beats theirs."""
    planner_target, idm_target = targets
    planner = VideoPlanner.from_pretrained(candidate / "planner")
    idm = InverseDynamics.from_pretrained(candidate / "idm")
    results = checked_evaluation(evaluation, planner, idm)
    new, old = results["summary"]["mean_success"], shipped_mean(planner_target)
    if old is not None and new <= old:
        raise InputError(f"the candidate scores {100 * new:.1f} %, the shipped pair {100 * old:.1f} %: not better")
    size = directory_bytes(candidate / "planner", candidate / "idm")
    if size > SIZE_LIMIT_BYTES:
        raise InputError(f"the candidate takes {size / 1e6:.1f} MB, over the {SIZE_LIMIT_BYTES / 1e6:.0f} MB limit")
    training = read_json(candidate / TRAINING_FILE, {"planner": list, "idm": list})
    image, expected = expected_plan(planner, idm)
    # the IDM first: the planner's directory, whose evaluation names both, is the last thing to change
    with atomic_directory(idm_target) as staging:
        shutil.copytree(candidate / "idm", staging, dirs_exist_ok=True)
        (staging / "README.md").write_text(idm_card(results, training["idm"], idm.config))
        (staging / STAGES_FILE).write_text(json.dumps(training["idm"], indent=2))
    with atomic_directory(planner_target) as staging:
        shutil.copytree(candidate / "planner", staging, dirs_exist_ok=True)
        (staging / "README.md").write_text(planner_card(results, training["planner"], planner.config, size / 1e6))
        (staging / STAGES_FILE).write_text(json.dumps(training["planner"], indent=2))
        shipped = results | {"models": {"planner": planner_fingerprint(planner), "idm": weights_digest(idm)}}
        (staging / EVALUATION_FILE).write_text(json.dumps(shipped, indent=2))
        Image.fromarray(image).save(staging / EXPECTED_IMAGE)
        (staging / EXPECTED_FILE).write_text(json.dumps(expected, indent=2))
    was = "none" if old is None else f"{100 * old:.1f} %"
    print(f"shipped: AVDC-11 {100 * new:.1f} % (was {was}), {size / 1e6:.1f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="fp16 copies of a planner and an IDM, to evaluate")
    packing.add_argument("--planner", required=True, help="a planner directory (vp train-planner) or default")
    packing.add_argument("--idm", required=True, help="an IDM directory (vp train-idm) or default")
    packing.add_argument("--output", type=Path, required=True)
    shipping = commands.add_parser("ship", help="replace the shipped models with an evaluated candidate")
    shipping.add_argument("--candidate", type=Path, required=True, help="a directory written by pack")
    shipping.add_argument("--evaluation", type=Path, required=True, help="vp eval's --output on the candidate")
    args = parser.parse_args()
    if args.command == "pack":
        return exit_status(lambda: pack(args.planner, args.idm, args.output))
    return exit_status(lambda: ship(args.candidate, args.evaluation))


if __name__ == "__main__":
    sys.exit(main())
