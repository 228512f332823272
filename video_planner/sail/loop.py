"""The SAIL loop: plan → execute → filter → fine-tune, iteration after iteration, on tasks with no demos.

    vp sail --tasks button-press-wall,drawer-close --planner outputs/planner/avdc11-cpu/checkpoint \
        --idm outputs/idm/avdc11/checkpoint --prior outputs/planner/mt50-prior/checkpoint --mode ipa \
        --iterations 4 --rollouts 30 --filter learned --detector outputs/success/mt50 --output outputs/sail/run

Iteration k: its models (iteration 0: the given ones; after that, the previous ones fine-tuned on every
rollout kept so far) are evaluated on fixed scene seeds no rollout ever uses (`iter_k/eval`); then, unless
it is the last, they run `rollouts` recorded episodes per task (`iter_k/rollouts`) and the filter keeps
some (`iter_k/kept`). Every step leaves a marker or a resumable record, so a rerun after a crash continues
where it stopped without running any episode twice. `report.md` is rewritten after each step.
"""

import dataclasses
from pathlib import Path

from foundation.errors import InputError
from inverse_dynamics.model import InverseDynamics
from robot_io.envs import task_features
from video_planner.control.agent import Agent, check_robot_compatible
from video_planner.control.closed_loop_eval import evaluate_control
from video_planner.control.settings import ReplanRule
from video_planner.model.loading import load_planner, resolve_device
from video_planner.model.protocols import Prior
from video_planner.sail.filtering import filter_rollouts, filter_settings, load_detector, read_filter_result
from video_planner.sail.finetune import fine_tune, read_models, starting_models, write_models
from video_planner.sail.report import write_report
from video_planner.sail.settings import SailSettings, pin_settings


def iteration_dir(output: Path, iteration: int) -> Path:
    return output / f"iter_{iteration}"


def _load_models(settings: SailSettings, models: dict, prior: Prior | None):
    """The iteration's planner (`models["planner"]`, composed as the settings say, with `prior` when it is
    already loaded, so it loads once per run) and IDM."""
    planner = load_planner(dataclasses.replace(settings, planner=models["planner"]), prior)
    return planner, InverseDynamics.from_pretrained(models["idm"]).to(resolve_device(settings.device))


def seen_targets(settings: SailSettings, trained: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """The targets each model (name -> its trained tasks) was trained on; refused in one line unless the
    settings allow seen targets, since SAIL's claim is improvement on tasks no model saw."""
    seen = {name: sorted(set(tasks) & set(settings.tasks)) for name, tasks in trained.items()}
    seen = {name: tasks for name, tasks in seen.items() if tasks}
    if seen and not settings.allow_seen_targets:
        listed = "; ".join(f"the {name} trained on {', '.join(tasks)}" for name, tasks in seen.items())
        raise InputError(
            f"targets are not unseen: {listed}; choose other --tasks, or pass --allow-seen-targets "
            "(the report then says so)"
        )
    return seen


def _check_inputs(settings: SailSettings):
    """Loads every model before anything is written, so bad input stops the run with nothing on disk.
    Returns iteration 0's models as local directories, the prior (None without one), the success
    detector (None without one) and the targets each model was trained on (`seen_targets`)."""
    models = starting_models(settings)
    planner, idm = _load_models(settings, models, None)
    prior = None if settings.prior is None else planner.prior
    Agent(planner, idm, ReplanRule(settings.replan_every))  # refuses a planner/IDM/replanning mismatch
    for task in settings.tasks:
        check_robot_compatible(idm, task_features(task))
    detector = load_detector(settings.detector)
    trained = {
        "planner": getattr(planner, "in_domain", planner).trained_tasks,
        "prior": getattr(prior, "trained_tasks", ()),  # a web-video prior records no MetaWorld task
        "IDM": idm.trained_tasks,
        "success detector": () if detector is None else detector.trained_tasks,
    }
    return models, prior, detector, seen_targets(settings, trained)


def run_sail(settings: SailSettings, output: Path, *, show_progress: bool = True) -> Path:
    """Runs (or resumes) every iteration; returns the path of `report.md`."""
    initial, prior, detector, seen = _check_inputs(settings)
    output.mkdir(parents=True, exist_ok=True)
    pin_settings(output, settings)
    if read_models(iteration_dir(output, 0)) is None:
        write_models(iteration_dir(output, 0), initial | {"finetuned_on": []})
    kept: list[str] = []
    expected_filter = filter_settings(settings.filter, detector, settings.threshold, settings.keep_fraction)
    models = read_models(iteration_dir(output, 0))
    for k in range(settings.iterations + 1):
        here = iteration_dir(output, k)
        if k > 0:
            models = fine_tune(settings, models, list(kept), here, show_progress)
        result = read_filter_result(here, expected_filter)
        if result is None:  # unfinished: a finished iteration loads no model
            planner, idm = _load_models(settings, models, prior)
            evaluate_control(
                planner, idm, settings.eval_settings(), here / "eval", record=True, show_progress=show_progress
            )
            selection = settings.selection_settings()
            if selection is not None:  # the scenes to choose settings on; they never score an iteration
                evaluate_control(planner, idm, selection, here / "selection", show_progress=show_progress)
            write_report(settings, output, seen)
            if k == settings.iterations:
                break
            evaluate_control(
                planner, idm, settings.rollout_settings(k), here / "rollouts", record=True, show_progress=show_progress
            )
            result = filter_rollouts(
                here / "rollouts" / "rollouts",
                here / "kept",
                settings.filter,
                detector,
                idm.config.image_size,
                settings.threshold,
                settings.keep_fraction,
            )
            write_report(settings, output, seen)
        if result["kept"]:
            kept.append(str(here / "kept"))
    return output / "report.md"
