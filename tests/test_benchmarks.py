"""The benchmark scripts: the shared timer and the GPU scripts' refusal on a machine without CUDA (real runs of the
CPU ones: tests/test_bench_all.py)."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from bench_timing import time_interleaved

from foundation.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def script(name: str, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO / "scripts" / name), *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True)


def test_the_timer_interleaves_the_variants_and_reports_min_and_median():
    calls = []
    variants = {name: (lambda name=name: calls.append(name)) for name in ("a", "b", "c")}
    timings = time_interleaved(variants, repeats=3, warmup=2)
    assert calls == ["a", "a", "b", "b", "c", "c"] + ["a", "b", "c"] * 3  # warm-up, then round after round
    assert set(timings) == {"a", "b", "c"}
    assert all(0 <= t.min_s <= t.median_s for t in timings.values())


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
@pytest.mark.parametrize(("name", "hint"), [("bench_gpu", "scripts/bench_train_step.py"), ("compose", "--device cpu")])
def test_gpu_benchmarks_refuse_a_machine_without_cuda_in_one_line(name, hint, monkeypatch, capsys, tmp_path):
    module = importlib.import_module("bench_gpu_preset" if name == "bench_gpu" else "bench_compose")
    monkeypatch.setattr(sys, "argv", [module.__file__, "--output", str(tmp_path)])
    assert module.main() == 2  # the scripts' own main, as `python scripts/<name>.py` runs it
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"error: scripts/{Path(module.__file__).name} needs a CUDA device" in err[0]
    assert hint in err[0]


def test_the_results_table_is_made_from_result_files_with_their_provenance(tmp_path, monkeypatch, capsys):
    import json

    import results_table

    def result(rates: dict, command: str) -> dict:
        tasks = {t: {"success": p, "stderr": (p * (1 - p) / 15) ** 0.5} for t, p in rates.items()}
        mean = sum(rates.values()) / len(rates)
        summary = {"tasks": tasks, "mean_success": mean, "mean_stderr": 0.05, "episodes": 15 * len(rates)}
        return {"run": {"command": command, "commit": "abc123", "episode_seconds": 12.5}, "summary": summary}

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(result({"door-open": 0.6, "reach": 0.2}, "vp eval --seeds 5")))
    b.write_text(json.dumps(result({"door-open": 1.0}, "vp eval --planner oracle")))
    monkeypatch.setattr(sys, "argv", ["results_table.py", str(a), str(b), "--names", "ours", "oracle"])
    assert results_table.main() == 0
    table = capsys.readouterr().out
    assert "| task | ours | oracle |" in table
    assert "| door-open | 60.0 ± 12.6 % | 100.0 ± 0.0 % |" in table and "| reach | 20.0 ± 10.3 % | – |" in table
    assert "- ours: 30 episodes; `vp eval --seeds 5`" in table and "commit abc123" in table
    anchor = result({"door-open": 0.72}, "")
    anchor["run"] = {"source": "AVDC, Table 1"}  # a published figure: its source, no command or commit
    (tmp_path / "anchor.json").write_text(json.dumps(anchor))
    monkeypatch.setattr(sys, "argv", ["results_table.py", str(a), str(tmp_path / "anchor.json")])
    assert results_table.main() == 0
    provenance = capsys.readouterr().out.split("- ")[-1]
    assert (
        provenance.startswith(f"{tmp_path / 'anchor.json'}: 15 episodes; AVDC, Table 1") and "commit" not in provenance
    )
    monkeypatch.setattr(sys, "argv", ["results_table.py", str(a), "--names", "x", "y"])
    assert results_table.main() == 2 and "2 names for 1 result files" in capsys.readouterr().err


def test_runs_on_the_same_scenes_get_their_paired_difference_and_other_scenes_none():
    from video_planner.control.closed_loop_eval import paired_difference

    def run(successes: list[int], first_seed: int = 0) -> dict:
        episodes = [
            {"task": "reach", "camera": "corner", "seed": first_seed + i, "success": bool(s)}
            for i, s in enumerate(successes)
        ]
        return {"episodes": episodes}

    base, other = run([1, 0, 0, 1]), run([1, 1, 1, 0])  # differences 0, +1, +1, -1: mean 0.25, sd 0.957
    assert str(paired_difference(base, other)) == "+25.0 ± 47.9 points on the same 4 scenes (2 won, 1 lost)"
    assert str(paired_difference(other, base)) == "-25.0 ± 47.9 points on the same 4 scenes (1 won, 2 lost)"
    assert paired_difference(base, run([1, 0, 0, 1], first_seed=10)) is None  # other scenes
    assert paired_difference(base, {}) is None  # a result file without its episodes


def test_the_lever_table_pairs_each_lever_with_its_own_baseline_and_refuses_other_scenes(tmp_path, monkeypatch, capsys):
    import json

    import lever_table

    def run(successes: list[int], plan_seconds: float, first_seed: int = 2_000_000) -> dict:
        episodes = [
            {"task": "reach", "camera": "corner", "seed": first_seed + i, "success": bool(s), "plans": 4}
            | {"seconds": {"plan": 4 * plan_seconds}}
            for i, s in enumerate(successes)
        ]
        summary = {"mean_success": sum(successes) / len(successes), "mean_stderr": 0.25, "tasks": {}}
        return {"run": {"settings": {"first_seed": first_seed}}, "summary": summary, "episodes": episodes}

    files = {"base": run([1, 0, 0, 1], 0.9), "lever": run([1, 1, 1, 0], 1.5), "elsewhere": run([1, 1, 0, 0], 0.9, 0)}
    for name, result in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(result))
    path = {name: str(tmp_path / f"{name}.json") for name in files}
    monkeypatch.setattr(sys, "argv", ["lever_table.py", "--lever", "3 plans", path["base"], path["lever"]])
    assert lever_table.main() == 0
    rows = capsys.readouterr().out.splitlines()
    row = "| 3 plans | 4 selection | 50.0 ± 25.0 % | 75.0 ± 25.0 % | +25.0 ± 47.9 points | 2 / 1 | 0.90 → 1.50 |"
    assert rows[2] == row
    assert rows[-1] == f"- 3 plans: `{path['base']}` → `{path['lever']}`"
    monkeypatch.setattr(sys, "argv", ["lever_table.py", "--lever", "x", path["base"], path["elsewhere"]])
    assert lever_table.main() == 2
    assert "did not play the same scenes" in capsys.readouterr().err


@pytest.mark.parametrize("planner", ["tiny", "oracle"])
def test_the_daemon_and_vp_eval_score_the_same_scenes(
    planner, tmp_path, monkeypatch, capsys, text_encoder, tiny_planner_config
):
    """Both sides of scripts/daemon_vs_eval.py run every scene and write `vp eval`'s results; the daemon's
    episode ends at the scene's step limit, where the simulator stops stepping, even while the oracle rolls the
    simulator ahead to plan."""
    import json

    import daemon_vs_eval
    from sail_runs import save_untrained_models

    models = save_untrained_models(tmp_path / "models", text_encoder, tiny_planner_config)
    source = models["planner"] if planner == "tiny" else "oracle"
    flags = ["--planner", source, "--idm", models["idm"], "--tasks", "door-open", "--seeds", "2"]
    flags += ["--max-episode-steps", "12", "--fps", "40", "--output", str(tmp_path / "out")]
    flags += ["--watchdog-periods", "40"]  # 1 s: the oracle's roll-ahead holds the simulator on a loaded machine
    monkeypatch.setattr(sys, "argv", ["daemon_vs_eval.py", *flags])
    assert daemon_vs_eval.main() == 0
    assert "2 scenes: solved by vp eval only" in capsys.readouterr().out
    sides = {side: json.loads((tmp_path / "out" / side / "results.json").read_text()) for side in ("eval", "daemon")}
    scenes = {side: [(r["task"], r["camera"], r["seed"]) for r in s["episodes"]] for side, s in sides.items()}
    assert (
        scenes["eval"] == scenes["daemon"] == [("door-open", "corner", 1_000_000), ("door-open", "corner", 1_000_001)]
    )
    for row in sides["daemon"]["episodes"]:
        assert row["steps"] == 12 or row["success"]  # the scene's limit, as in vp eval
        assert row["plans"] >= 1
        assert row["holds"].get("no plan yet", 0) >= 1  # the arm held until the first plan came
    assert "daemon_vs_eval.py" in sides["daemon"]["run"]["command"]


def test_a_planner_config_is_timed_against_the_cpu_preset_in_the_same_run(tmp_path, tiny_planner_config):
    import bench_plan

    path = tmp_path / "config.json"
    tiny_planner_config.save(path)
    rows = bench_plan.bench_config(path, steps=2, repeats=1).splitlines()
    assert rows[1] == "| planner | denoiser parameters | steps | s min | s median | vs the cpu preset (medians) |"
    cpu_preset, candidate = rows[3].split(" | "), rows[4].split(" | ")
    assert cpu_preset[0] == "| cpu preset" and cpu_preset[2] == "20" and cpu_preset[-1] == "1.00x the time |"
    assert candidate[0] == "| config.json" and candidate[2] == "2" and candidate[1] != cpu_preset[1]
    with pytest.raises(InputError, match="--config-steps must be >= 1, got 0"):
        bench_plan.bench_config(path, steps=0, repeats=1)


def test_guidance_scales_are_timed_against_the_cpu_presets_in_the_same_run():
    import bench_plan

    rows = bench_plan.bench_guidance([1.0], repeats=1).splitlines()
    assert rows[1] == "| guidance | steps | s min | s median | vs guidance 2.0 (medians) |"
    off, preset_scale = rows[3].split(" | "), rows[4].split(" | ")
    assert off[0] == "| 1.0" and preset_scale[0] == "| 2.0" and preset_scale[-1] == "1.00x the time |"
    with pytest.raises(InputError, match=r"--guidance scales must be >= 1 \(1 turns guidance off\), got \[0.5\]"):
        bench_plan.bench_guidance([0.5], repeats=1)
