"""`vp sail-step`: one SAIL step on rollouts recorded elsewhere, the way a robot improves: the daemon records
episodes beside the arm, this filters them (a learned success detector, or none: a real arm has no simulator to
ask) and fine-tunes the planner and/or IDM on the kept ones. The new models go back to the daemon.

    vp sail-step --rollouts outputs/daemon/so101 --planner outputs/planner/so101/checkpoint \
        --idm outputs/idm/so101/checkpoint --filter learned --detector outputs/success/so101 --output outputs/step1

`output/kept` and `output/filter.json` are the filter step, `output/planner` and `output/idm` the fine-tuning
runs, and `models.json` (written last) names the new models. A rerun after a crash resumes where it stopped.
"""

from pathlib import Path

from foundation.errors import InputError
from inverse_dynamics.model import InverseDynamics
from robot_io.dataset_io import open_dataset
from robot_io.rollout_store import recorded_robot
from video_planner.control.agent import check_compatible, check_robot_compatible
from video_planner.model.planner import VideoPlanner
from video_planner.sail.filtering import filter_rollouts, load_detector
from video_planner.sail.finetune import fine_tune, starting_models
from video_planner.sail.settings import SailStepSettings


def run_sail_step(settings: SailStepSettings, output: Path, *, show_progress: bool = True) -> dict:
    """Filters `settings.rollouts` and fine-tunes on what is kept; returns the filter's result and the new
    models (`models.json`). Every input is checked before anything is written."""
    rollouts = Path(settings.rollouts)
    open_dataset(rollouts)  # a missing or damaged dataset is refused in one line
    models = starting_models(settings)
    idm = InverseDynamics.from_pretrained(models["idm"])
    check_compatible(VideoPlanner.from_pretrained(models["planner"]), idm)
    check_robot_compatible(idm, recorded_robot(rollouts))
    detector = load_detector(settings.detector)
    result = filter_rollouts(
        rollouts,
        output / "kept",
        settings.filter,
        detector,
        idm.config.image_size,
        settings.threshold,
        settings.keep_fraction,
    )
    if not result["kept"]:
        raise InputError(
            f"the {settings.filter} filter kept none of the {result['rollouts']} rollouts in {rollouts}: nothing to "
            "fine-tune on; record more episodes, or lower --threshold (or use --keep-fraction)"
        )
    kept = [str(output / "kept")]
    return {"filter": result, "models": fine_tune(settings, models, kept, output, show_progress)}
