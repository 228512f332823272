"""scripts/default_models.py: a pair is packed in fp16, shipped only with an evaluation of exactly its weights
on the shipping protocol, and only when it beats the shipped pair; the shipped files load by the name
`default` and plan what they planned when they were shipped."""

import dataclasses
import json
import shutil
from pathlib import Path

import default_models
import numpy as np
import pytest
from PIL import Image
from safetensors import safe_open

from foundation.config_io import dataclass_to_dict
from foundation.errors import InputError
from foundation.hub import resolve_model_directory, weights_digest
from inverse_dynamics.model import SHIPPED_IDM, InverseDynamics, idm_directory
from video_planner.control.closed_loop_eval import (
    SETTINGS_BEFORE_THEY_EXISTED,
    planner_fingerprint,
    summarize,
    write_reports,
)
from video_planner.model.checkpoint import SHIPPED_PLANNER, planner_directory
from video_planner.model.planner import VideoPlanner


def with_training_record(source: Path, target: Path, **settings) -> Path:
    """A copy of a model directory with the training record `vp train-*` leaves in its checkpoints, its
    settings changed by `settings`."""
    shutil.copytree(source, target)
    (target / "training_state").mkdir()
    record = {"train_config": {"datasets": ["outputs/datasets/metaworld_avdc11"], "steps": 3, "seed": 0} | settings}
    (target / "training_state" / "trainer_state.json").write_text(json.dumps(record))
    return target


def evaluation_of(candidate: Path, output: Path, solved_per_task: int, **protocol) -> Path:
    """What `vp eval` leaves (its settings.json with the models' digests, its reports) after an evaluation on
    the shipping protocol, changed by `protocol`, in which each task's first `solved_per_task` episodes succeed."""
    planner = VideoPlanner.from_pretrained(candidate / "planner")
    idm = InverseDynamics.from_pretrained(candidate / "idm")
    output.mkdir()
    models = {"planner": planner_fingerprint(planner), "idm": weights_digest(idm)}
    (output / "settings.json").write_text(json.dumps(models))
    settings = dataclasses.replace(default_models.SHIPPING_PROTOCOL, **protocol)
    rows = []
    for task in settings.tasks:
        for i, (_, camera, seed) in enumerate(e for e in settings.episodes() if e[0] == task):
            outcome = {"success": i < solved_per_task, "steps": 100, "plans": 5, "stall_replans": 0}
            rows.append({"task": task, "camera": camera, "seed": seed, "seconds": {"plan": 1.0}} | outcome)
    run = {"settings": dataclass_to_dict(settings), "command": "vp eval --tasks avdc11 --seeds 5", "commit": "0123abcd"}
    write_reports(summarize(rows, settings, idm.trained_tasks), rows, output, run)
    return output


def check_expected_plan(planner_dir: Path, idm_dir: Path) -> None:
    """The shipped pair plans and acts as it did when shipped: the check `default_models.ship` recorded."""
    expected = json.loads((planner_dir / default_models.EXPECTED_FILE).read_text())
    image = np.asarray(Image.open(planner_dir / expected["image"]))
    planner = VideoPlanner.from_pretrained(planner_dir)
    plan = planner.plan(image, expected["instruction"], seed=expected["plan_seed"])
    middle = slice(planner.config.image_size // 2 - 2, planner.config.image_size // 2 + 2)
    np.testing.assert_allclose(plan.frames[-1, middle, middle, 0], expected["plan_last_frame_center"], atol=1)
    assert abs(plan.frames.astype(np.float64).mean() - expected["plan_mean"]) < 0.05
    actions = InverseDynamics.from_pretrained(idm_dir).actions(image, np.array(expected["state"]), plan.frames[0])
    np.testing.assert_allclose(actions, expected["idm_actions"], atol=1e-4)


def test_a_pair_ships_in_fp16_only_when_its_own_evaluation_beats_the_shipped_pair(tiny_models, tmp_path):
    sources = [with_training_record(tiny_models / name, tmp_path / "sources" / name) for name in ("planner", "idm")]
    candidate = tmp_path / "candidate"
    default_models.pack(*sources, candidate)
    with safe_open(candidate / "planner" / "model.safetensors", "pt") as weights:
        assert {weights.get_tensor(k).dtype for k in weights.keys()} == {__import__("torch").float16}
    fp32, fp16 = (InverseDynamics.from_pretrained(d / "idm") for d in (tiny_models, candidate))
    rng = np.random.default_rng(0)
    image, target = (rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(2))
    state = np.array([0.1, 0.6, 0.2, 0.5], dtype=np.float32)
    np.testing.assert_allclose(fp16.actions(image, state, target), fp32.actions(image, state, target), atol=5e-3)

    targets = (tmp_path / "shipped" / "planner", tmp_path / "shipped" / "idm")
    default_models.ship(candidate, evaluation_of(candidate, tmp_path / "eval-40", 6), targets)
    for directory in targets:
        assert "AVDC-11" in (directory / "README.md").read_text()
    card = (targets[0] / "README.md").read_text()
    assert "40.0 ± 3.8 %" in card and "metaworld_avdc11 [0, 60)" in card and '"steps": 3' in card
    command = "vp train-planner \\\n    --dataset outputs/datasets/metaworld_avdc11 \\\n    --steps 3 \\\n    "
    command += "--config video_planner/default_model/config.json"
    assert command in card  # the tiny planner is no preset
    idm_card = (targets[1] / "README.md").read_text()
    assert "--steps 3 \\\n    --image-size 32 \\\n    --chunk-size 4 \\\n" in idm_card
    assert "no flag (see `config.json`): encoder_channels, hidden_dim." in idm_card
    check_expected_plan(*targets)

    with pytest.raises(InputError, match="scores 40.0 %, the shipped pair 40.0 %: not better"):
        default_models.ship(candidate, evaluation_of(candidate, tmp_path / "eval-40b", 6), targets)
    with pytest.raises(InputError, match="differs from the shipping protocol in seeds"):
        default_models.ship(candidate, evaluation_of(candidate, tmp_path / "eval-4", 9, seeds=4), targets)
    with pytest.raises(InputError, match="differs from the shipping protocol in plan_samples"):
        default_models.ship(candidate, evaluation_of(candidate, tmp_path / "eval-medoid", 9, plan_samples=3), targets)
    with pytest.raises(InputError, match="evaluated other weights"):
        default_models.ship(candidate, evaluation_of(tiny_models, tmp_path / "eval-fp32", 9), targets)
    default_models.ship(candidate, evaluation_of(candidate, tmp_path / "eval-60", 9), targets)
    assert json.loads((targets[0] / "evaluation.json").read_text())["summary"]["mean_success"] == pytest.approx(0.6)


def test_a_planner_fine_tuned_from_the_shipped_one_ships_with_the_commands_of_both_runs(tiny_models, tmp_path):
    shipped = tmp_path / "shipped"  # a shipped planner: its runs are recorded in training_stages.json
    shutil.copytree(tiny_models / "planner", shipped / "planner")
    first_run = {"datasets": ["outputs/datasets/metaworld_avdc11"], "steps": 3, "seed": 0}
    (shipped / "planner" / default_models.STAGES_FILE).write_text(json.dumps([first_run]))
    targets = (shipped / "planner", shipped / "idm")
    idm = with_training_record(tiny_models / "idm", tmp_path / "idm")

    tuned = with_training_record(tiny_models / "planner", tmp_path / "tuned", steps=2, init_from=str(targets[0]))
    default_models.pack(tuned, idm, tmp_path / "candidate")
    default_models.ship(tmp_path / "candidate", evaluation_of(tmp_path / "candidate", tmp_path / "eval-60", 9), targets)
    card = (targets[0] / "README.md").read_text()
    first = "vp train-planner \\\n    --dataset outputs/datasets/metaworld_avdc11 \\\n    --steps 3 \\\n"
    second = "--steps 2 \\\n    --init-from outputs/planner/default-stage1 \\\n"
    assert "in 2 runs" in card and first in card and second in card
    assert card.index("--output outputs/planner/default-stage1") < card.index(second)
    stages = json.loads((targets[0] / default_models.STAGES_FILE).read_text())
    assert [stage["steps"] for stage in stages] == [3, 2]

    unknown = with_training_record(
        tiny_models / "planner", tmp_path / "from-unknown", init_from=str(tiny_models / "planner")
    )
    with pytest.raises(InputError, match="cannot tell how .* was trained"):
        default_models.pack(unknown, idm, tmp_path / "refused")


def test_default_names_the_shipped_directory_and_a_missing_one_is_refused_in_one_line(tmp_path):
    shipped = tmp_path / "default_model"
    with pytest.raises(InputError, match=f"no default planner is installed at {shipped}"):
        resolve_model_directory("default", None, "planner", shipped=shipped)
    shipped.mkdir()
    (shipped / "config.json").write_text("{}")
    assert resolve_model_directory("default", None, "planner", shipped=shipped) == shipped


def test_the_shipped_pair_loads_by_name_plans_as_recorded_and_its_evaluation_scored_exactly_its_weights():
    planner, idm = VideoPlanner.from_pretrained("default"), InverseDynamics.from_pretrained("default")
    check_expected_plan(SHIPPED_PLANNER, SHIPPED_IDM)
    evaluation = json.loads((SHIPPED_PLANNER / default_models.EVALUATION_FILE).read_text())
    assert evaluation["models"] == {"planner": planner_fingerprint(planner), "idm": weights_digest(idm)}
    ran = SETTINGS_BEFORE_THEY_EXISTED | evaluation["run"]["settings"]
    wanted = dataclass_to_dict(default_models.SHIPPING_PROTOCOL)
    fields = default_models.PROTOCOL_FIELDS
    assert {name: ran[name] for name in fields} == {name: wanted[name] for name in fields}
    assert evaluation["summary"]["episodes"] == len(default_models.SHIPPING_PROTOCOL.episodes())
    assert default_models.directory_bytes(SHIPPED_PLANNER, SHIPPED_IDM) <= default_models.SIZE_LIMIT_BYTES
    for directory, resolve in ((SHIPPED_PLANNER, planner_directory), (SHIPPED_IDM, idm_directory)):
        stages = json.loads((directory / default_models.STAGES_FILE).read_text())
        # the runs behind each model go back to a fresh start, and pack finds them by the name default
        assert stages and not stages[0].get("init_from") and all(stage.get("init_from") for stage in stages[1:])
        assert default_models.training_stages("default", resolve) == stages
