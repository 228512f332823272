"""The SAIL loop end to end on MetaWorld with tiny models: rollouts recorded, filtered, fine-tuned on,
evaluated and reported; bad input stops it before any rollout (a kill mid-iteration: test_sail_resume.py)."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sail_runs import TASKS, result_rows, sail_settings, save_untrained_models

from foundation.errors import InputError
from foundation.hub import weights_digest
from inverse_dynamics.model import InverseDynamics
from robot_io.dataset_io import open_dataset, read_episodes
from video_planner.control.closed_loop_eval import mean_steps_solved
from video_planner.model.planner import VideoPlanner
from video_planner.sail.filtering import filter_rollouts
from video_planner.sail.loop import run_sail
from video_planner.sail.success_detector import SuccessDetector, SuccessDetectorConfig


@pytest.fixture(scope="module")
def models(tmp_path_factory, text_encoder, tiny_planner_config):
    return save_untrained_models(tmp_path_factory.mktemp("sail_models"), text_encoder, tiny_planner_config)


def _weights(path: str, cls) -> str:
    return weights_digest(cls.from_pretrained(path))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, models, two_episode_dataset):
    """One iteration that fine-tunes with the demos replayed; returns (output, report, settings)."""
    output = tmp_path_factory.mktemp("sail") / "run"
    settings = sail_settings(models, replay=(str(two_episode_dataset),), match_replay_pace=True, selection_seeds=1)
    return output, run_sail(settings, output, show_progress=False), settings


def _train_config(run: Path) -> dict:
    return json.loads((run / "checkpoint" / "training_state" / "trainer_state.json").read_text())["train_config"]


def test_one_tiny_iteration_grows_the_data_changes_the_models_and_reports(tiny_run, models, two_episode_dataset):
    output, report, settings = tiny_run

    kept = open_dataset(output / "iter_0" / "kept")
    assert kept.meta.total_episodes == 2  # "none" keeps both rollouts
    trained = json.loads((output / "iter_1" / "models.json").read_text())
    assert trained["finetuned_on"] == [str(output / "iter_0" / "kept")]
    assert _weights(trained["planner"], VideoPlanner) != _weights(models["planner"], VideoPlanner)
    assert _weights(trained["idm"], InverseDynamics) != _weights(models["idm"], InverseDynamics)
    planner_run, idm_run = _train_config(output / "iter_1" / "planner"), _train_config(output / "iter_1" / "idm")
    assert planner_run["replay"] == idm_run["replay"] == [str(two_episode_dataset)]
    assert planner_run["match_replay_pace"] and planner_run["datasets"] == [str(output / "iter_0" / "kept")]

    eval_seeds = {r["seed"] for k in (0, 1) for r in result_rows(output / f"iter_{k}" / "eval")}
    rollout_seeds = {r["seed"] for r in result_rows(output / "iter_0" / "rollouts")}
    selection_seeds = {r["seed"] for k in (0, 1) for r in result_rows(output / f"iter_{k}" / "selection")}
    assert len(rollout_seeds) == 2 and len(selection_seeds) == 1
    assert not eval_seeds & rollout_seeds and not selection_seeds & (eval_seeds | rollout_seeds)

    text = report.read_text()
    assert "| 0 | **" in text and "| 1 | **" in text and "| selection seeds |" in text
    assert f"{two_episode_dataset} replayed (0.5 of each batch, rollout clips paced to them)" in text
    assert (output / "success_vs_iteration.png").stat().st_size > 0
    assert (output / "plan_vs_execution.mp4").stat().st_size > 0

    finished_eval = output / "iter_0" / "eval" / "results.json"
    written = finished_eval.stat().st_mtime_ns
    again = run_sail(settings, output, show_progress=False)  # a finished run reruns nothing
    assert again.read_text() == text and open_dataset(output / "iter_0" / "kept").meta.total_episodes == 2
    assert finished_eval.stat().st_mtime_ns == written  # a finished iteration is not even re-summarised
    with pytest.raises(InputError, match="other settings \\(filter changed\\)"):
        run_sail(replace(settings, filter="oracle"), output, show_progress=False)


def test_the_iteration_table_is_rendered_from_the_kept_result_files_alone(tiny_run, tmp_path, monkeypatch):
    """scripts/sail_table.py keeps the files the table reads (small JSON, no rollouts or models) and renders
    from them the table that report.md holds."""
    monkeypatch.syspath_prepend(Path(__file__).parents[1] / "scripts")
    from sail_table import keep_result_files, sail_table

    output, report, _ = tiny_run
    kept = tmp_path / "kept"
    keep_result_files(output, kept)
    files = sorted(str(p.relative_to(kept)) for p in kept.rglob("*") if p.is_file())
    assert files == [
        "iter_0/eval/results.json",
        "iter_0/filter.json",
        "iter_0/selection/results.json",
        "iter_1/eval/results.json",
        "iter_1/selection/results.json",
        "sail.json",
    ]
    table = sail_table(kept)
    assert table in report.read_text() and "| 1 | **" in table


def test_steps_per_solved_episode_leave_failures_out():
    rows = [{"success": True, "steps": 80}, {"success": False, "steps": 500}, {"success": True, "steps": 100}]
    assert mean_steps_solved(rows) == 90.0 and mean_steps_solved(rows[1:2]) is None


def test_the_learned_filter_keeps_what_the_detector_calls_solved(tiny_run, text_encoder, tmp_path):
    output = tiny_run[0]
    detector = SuccessDetector(
        SuccessDetectorConfig(image_size=32, encoder_channels=(8, 16), hidden_dim=32), text_encoder
    )
    rollouts = output / "iter_0" / "rollouts" / "rollouts"
    episodes = read_episodes(rollouts)
    expected = detector.probabilities(
        [e.images[0] for e in episodes], [e.images[-1] for e in episodes], [e.instruction for e in episodes]
    )
    threshold = float(np.sort(expected)[1])  # exactly one of the two rollouts reaches it
    result = filter_rollouts(rollouts, tmp_path / "a" / "kept", "learned", detector, 32, threshold)
    assert [v["probability"] for v in result["verdicts"]] == [round(float(p), 4) for p in expected]
    assert [v["kept"] for v in result["verdicts"]] == list(expected >= threshold)
    assert result["kept"] == 1 and open_dataset(tmp_path / "a" / "kept").meta.total_episodes == 1
    assert result["detector"]["episodes"] == 2 and result["detector"]["predicted_successes"] == 1
    nothing = filter_rollouts(rollouts, tmp_path / "b" / "kept", "learned", detector, 32, 1.01)
    assert nothing["kept"] == 0 and not (tmp_path / "b" / "kept").exists()
    # The rollouts are of one task: half of them is the one rated likelier solved, whatever the threshold.
    top = filter_rollouts(rollouts, tmp_path / "c" / "kept", "learned", detector, 32, 1.01, keep_fraction=0.5)
    assert [v["kept"] for v in top["verdicts"]] == [bool(p == expected.max()) for p in expected]


def test_flipping_every_success_label_moves_the_oracle_filter_and_never_the_learned_one(
    tiny_run, text_encoder, tmp_path
):
    """The learned filter sees frames and instructions only: the simulator's verdict (rows in the sidecar and
    the per-frame column) can say anything without changing what it keeps, while the oracle keeps exactly the
    rollouts labelled solved."""
    import shutil

    import pyarrow.parquet as pq

    from robot_io.episode_format import SUCCESS_KEY

    rollouts = tiny_run[0] / "iter_0" / "rollouts" / "rollouts"
    flipped = shutil.copytree(rollouts, tmp_path / "flipped")
    sidecar = flipped / "meta" / "rollout_progress.json"
    progress = json.loads(sidecar.read_text())
    progress["rows"] = [row | {"success": not row["success"]} for row in progress["rows"]]
    sidecar.write_text(json.dumps(progress))
    for table_path in (flipped / "data").rglob("*.parquet"):
        table = pq.read_table(table_path)
        column = table.schema.get_field_index(SUCCESS_KEY)
        labels = [not v for v in table.column(column).to_pylist()]
        pq.write_table(table.set_column(column, table.schema.field(column), [labels]), table_path)

    detector = SuccessDetector(
        SuccessDetectorConfig(image_size=32, encoder_channels=(8, 16), hidden_dim=32), text_encoder
    )
    kept = {}
    for name, source in (("original", rollouts), ("flipped", flipped)):
        for filter_name in ("learned", "oracle"):
            out = tmp_path / name / filter_name / "kept"
            result = filter_rollouts(source, out, filter_name, detector, 32, keep_fraction=0.5)  # the likelier one
            kept[name, filter_name] = [v["kept"] for v in result["verdicts"]]
            labels = [v["success"] for v in result["verdicts"]]
            if filter_name == "oracle":
                assert kept[name, filter_name] == labels
    assert kept["original", "learned"] == kept["flipped", "learned"] and sum(kept["flipped", "learned"]) == 1
    assert kept["flipped", "oracle"] == [not k for k in kept["original", "oracle"]]


def test_a_filter_result_from_other_settings_is_never_trusted(tiny_run, tmp_path):
    """An iteration copied from a run with another filter (or detector) must not carry its verdicts over."""
    rollouts = tiny_run[0] / "iter_0" / "rollouts" / "rollouts"
    kept = tmp_path / "iter_0" / "kept"
    first = filter_rollouts(rollouts, kept, "none", None, 32)
    assert filter_rollouts(rollouts, kept, "none", None, 32) == first  # the same settings: reused
    with pytest.raises(InputError, match=r"filter.json was written under other filter settings \(filter differ\)"):
        filter_rollouts(rollouts, kept, "oracle", None, 32)


def test_bad_input_stops_before_any_rollout(tmp_path, models):
    with pytest.raises(InputError, match="unknown filter 'vlm'; valid: none, oracle, learned"):
        sail_settings(models, filter="vlm")
    with pytest.raises(InputError, match="unknown composition mode 'sum'; valid: pa, ipa"):
        sail_settings(models, mode="sum")
    with pytest.raises(InputError, match="no planner checkpoint directory"):
        run_sail(sail_settings(models, prior=str(tmp_path / "missing")), tmp_path / "run", show_progress=False)
    with pytest.raises(InputError, match="cannot compose"):
        run_sail(sail_settings(models, prior=models["foreign_prior"]), tmp_path / "run", show_progress=False)
    with pytest.raises(InputError, match="replan_every 6 must be a multiple of the IDM chunk size 4"):
        run_sail(sail_settings(models, replan_every=6), tmp_path / "run", show_progress=False)
    with pytest.raises(InputError, match="--prior-strength needs --prior, the prior to compose with"):
        sail_settings(models, prior=None, prior_strength=0.3)
    with pytest.raises(InputError, match="closed-loop settings: seeds must be a number in \\[1, 1000\\], got 1001"):
        sail_settings(models, rollouts=2002, cameras=("corner", "corner2"))
    with pytest.raises(InputError, match="needs --filter learned and a value in \\(0, 1\\], got --filter none"):
        sail_settings(models, keep_fraction=0.25)
    with pytest.raises(InputError, match="got --filter learned --keep-fraction 0.0"):
        sail_settings(models, filter="learned", detector=str(tmp_path), keep_fraction=0.0)
    with pytest.raises(InputError, match="--match-replay-pace needs --replay"):
        sail_settings(models, match_replay_pace=True)
    with pytest.raises(InputError, match="replay_fraction must lie in \\(0, 1\\), got 1.0"):
        sail_settings(models, replay=(str(tmp_path),), replay_fraction=1.0)
    with pytest.raises(InputError, match="no LeRobot dataset at .*missing_demos"):
        run_sail(
            sail_settings(models, replay=(str(tmp_path / "missing_demos"),)), tmp_path / "run", show_progress=False
        )
    assert not (tmp_path / "run").exists()


def test_a_target_some_model_trained_on_is_refused_unless_allowed(models):
    from video_planner.sail.loop import seen_targets
    from video_planner.sail.report import _seen_text

    trained = {"planner": ("reach",), "IDM": (TASKS[0], "reach"), "success detector": ()}
    with pytest.raises(InputError, match=f"targets are not unseen: the IDM trained on {TASKS[0]}; choose other"):
        seen_targets(sail_settings(models), trained)
    seen = seen_targets(sail_settings(models, allow_seen_targets=True), trained)
    assert seen == {"IDM": [TASKS[0]]} and "**Not unseen**" in _seen_text(seen)
    assert seen_targets(sail_settings(models), {"planner": ("reach",)}) == {}
    assert _seen_text({}).startswith("Every target is unseen")


def test_vp_eval_refuses_composition_flags_without_a_prior(models, capsys):
    from video_planner.cli import main

    common = ["eval", "--tasks", "door-open", "--idm", models["idm"], "--output", "/nonexistent/eval"]
    assert main([*common, "--planner", models["planner"], "--prior-strength", "0.3"]) == 2
    assert main([*common, "--planner", "oracle", "--prior", models["prior"]]) == 2
    assert main([*common, "--planner", "oracle", "--guidance-scale", "3"]) == 2
    assert main([*common, "--planner", models["planner"], "--prior", models["prior"], "--guidance-scale", "3"]) == 2
    lines = capsys.readouterr().err.splitlines()
    oracle = "error: --prior, --sampling-steps and --guidance-scale apply to a trained planner, not to --planner oracle"
    assert lines == [
        "error: --prior-strength needs --prior, the prior to compose with",
        oracle,
        oracle,
        "error: --guidance-scale guides a planner alone; with --prior give --composition-guidance",
    ]
