"""Closed-loop task success in MetaWorld, with AVDC's protocol: tasks × cameras × scene seeds.

    vp eval --tasks avdc11 --seeds 25 --planner outputs/planner/avdc11-cpu/checkpoint \
        --idm outputs/idm/avdc11/checkpoint --output outputs/eval/avdc11
    vp eval --tasks avdc11 --seeds 25 --planner oracle --idm ...   # oracle plans: the IDM + executor alone
    vp eval ... --prior outputs/planner/mt50-prior/checkpoint --mode ipa   # plans composed with a prior

Each finished episode is appended to `episodes.jsonl` (with `--record`, each (task, camera) group's rows
are committed with its rollouts instead), so an interrupted evaluation resumes where it stopped; the same
settings give the same table. Scene seeds start at 1,000,000, far from every recipe's.
"""

import csv
import io
import itertools
import json
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from foundation.atomic_dir import write_text_atomic
from foundation.config_io import checked_keys, dataclass_to_dict, read_json
from foundation.errors import InputError
from foundation.hub import weights_digest
from inverse_dynamics.model import InverseDynamics
from robot_io.envs import task_features
from robot_io.ray_envs import EnvWorkers
from robot_io.rollout_store import open_rollout_store, record_episodes, recorded_rows
from video_planner.control.agent import check_robot_compatible
from video_planner.control.episode_runner import Finished, GroupRun, frame_size, run_group, run_group_in_workers
from video_planner.control.settings import ControlEvalSettings
from video_planner.model.composition import ComposedPlanner
from video_planner.model.oracle_planner import Oracle
from video_planner.model.protocols import Planner

EPISODES_FILE = "episodes.jsonl"


def read_episode_log(path: Path) -> list[dict]:
    """Rows of `episodes.jsonl`. A last line cut short by a crash is dropped from the file (its episode runs
    again), so rows appended after it start on a line of their own."""
    if not path.is_file():
        return []
    text = path.read_text()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
        write_text_atomic(path, text)
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{path} line {number}"
        try:
            rows.append(checked_row(json.loads(line), where))
        except json.JSONDecodeError:
            raise InputError(f"{where} is damaged (not JSON); delete that line to run its episode again") from None
    return rows


def checked_row(row, source: str) -> dict:
    """An episode's result row read back from a file, refused in one line unless it holds every field the
    summary reads, with the right types."""
    return checked_keys(
        row, {"task": str, "camera": str, "seed": int, "success": bool, "steps": int, "seconds": dict}, source
    )


def _finished(output: Path, store) -> dict[tuple, dict]:
    """Result rows of the episodes already run, by (task, camera, seed): the log's, and with recording the
    rollout dataset's (committed with its episodes, so a crash between the two never repeats an episode)."""
    recorded = []
    if store is not None:
        source = str(store.root / store.sidecar_path)
        recorded = [checked_row(row, f"{source} [rows]") for row in recorded_rows(store)]
    rows = read_episode_log(output / EPISODES_FILE) + recorded
    return {(r["task"], r["camera"], r["seed"]): r for r in rows}


def evaluate_control(
    planner: Planner | Oracle,
    idm: InverseDynamics,
    settings: ControlEvalSettings,
    output: Path,
    *,
    record: bool = False,
    show_progress: bool = True,
    provenance: dict | None = None,
) -> dict:
    """Runs every (task, camera, seed) episode not already in `output/episodes.jsonl`; returns the summary.
    `provenance` (`foundation.provenance.run_record`) goes into `results.json` with the settings, so a table
    made from the file can name the command, the code and the scenes it measured.

    `planner` is any loaded `Planner`, or the `Oracle` (expert frames, an `OraclePlanner` made for each env).

    With `record`, every rollout also lands in the LeRobotDataset `output/rollouts` (with the planned
    frame of each step); a (task, camera) group's episodes and log rows are committed together.
    """
    robots = {task_features(task) for task in settings.tasks}
    for robot in robots:
        check_robot_compatible(idm, robot)
    if record and len(robots) > 1:
        raise InputError("--record writes one dataset of one robot's episodes; evaluate each robot's tasks apart")
    output.mkdir(parents=True, exist_ok=True)
    _check_settings(output, planner, idm, settings, record)
    store = open_rollout_store(output / "rollouts", frame_size(planner, idm), robots.pop()) if record else None
    done = _finished(output, store)
    todo = [e for e in settings.episodes() if e not in done]
    total = len(settings.episodes())
    bar = tqdm(total=total, initial=total - len(todo), desc="eval", disable=not show_progress)
    with (
        (output / EPISODES_FILE).open("a") as log,
        EnvWorkers(settings.workers) if settings.workers > 1 and todo else nullcontext() as workers,
    ):

        def on_done(finished: Finished) -> None:
            if not record:
                _append_rows(log, [finished.row])
            bar.update(1)

        for (task, camera), group in itertools.groupby(todo, key=lambda e: e[:2]):
            seeds = [seed for _, _, seed in group]
            run = GroupRun(planner, idm, settings, task, camera, output, record)
            if workers is None:
                finished = run_group(run, seeds, on_done)
            else:
                finished = run_group_in_workers(run, seeds, workers, on_done)
            if record:
                rows = [f.row for f in finished]
                record_episodes(store, [f.episode for f in finished], rows)
                _append_rows(log, rows)
    bar.close()
    done = _finished(output, store)
    rows = [done[key] for key in settings.episodes() if key in done]
    summary = summarize(rows, settings, idm.trained_tasks)
    episode_seconds = sum(sum(r["seconds"].values()) for r in rows)  # render, physics, plan and IDM time, summed
    run = {"settings": dataclass_to_dict(settings), "episode_seconds": round(episode_seconds, 1)}
    write_reports(summary, rows, output, run | (provenance or {}))
    return summary


def _append_rows(log, rows: list[dict]) -> None:
    log.writelines(json.dumps(row) + "\n" for row in rows)
    log.flush()


def planner_fingerprint(planner) -> str:
    """What identifies a planner's plans: its weights and sampler, and for a composition the prior's weights,
    the mode, the guidance and the prior strength."""
    config = planner.config
    sampling = f"{config.sampler} {config.sampling_steps} steps"
    if isinstance(planner, ComposedPlanner):
        return (
            f"{planner.mode} guidance {planner.guidance} prior strength {planner.prior_strength}, {sampling}: "
            f"{weights_digest(planner.in_domain)} + prior {weights_digest(planner.prior)}"
        )
    return f"{weights_digest(planner)}, guidance {config.guidance_scale}, {sampling}"


# the settings that change an episode's outcome: an output folder holds episodes of one value of each
RULED_SETTINGS = (
    "first_seed",
    "max_episode_steps",
    "replan_every",
    "plan_samples",
    "stop_at_success",
    "render_scale",
    "render_effects",
)
# what runs written before these settings existed did: stop at success, draw one plan, render at the models'
# size without effects; a run's recorded settings read through this
SETTINGS_BEFORE_THEY_EXISTED = {"stop_at_success": True, "plan_samples": 1, "render_scale": 1, "render_effects": False}


def _check_settings(output: Path, planner, idm, settings, record: bool) -> None:
    """Refuses to mix in episodes that ran differently (other models, step limit, replanning, seed base or
    recording). Tasks, cameras and seeds per camera may change: a larger evaluation reuses finished episodes."""
    path = output / "settings.json"
    fingerprint = Oracle.name if isinstance(planner, Oracle) else planner_fingerprint(planner)
    models = {"planner": fingerprint, "idm": weights_digest(idm)}
    rules = {k: getattr(settings, k) for k in RULED_SETTINGS}
    current = models | rules | {"record": record}
    saved = SETTINGS_BEFORE_THEY_EXISTED | read_json(path, keys={}) if path.is_file() else current
    changed = sorted(k for k in saved.keys() | current.keys() if saved.get(k) != current.get(k))
    if changed:
        raise InputError(
            f"{output} holds episodes run with other models or settings ({', '.join(changed)} differ); "
            "choose another --output"
        )
    write_text_atomic(path, json.dumps(current, indent=2))


def binomial_stderr(rate: float, episodes: int) -> float:
    """The standard error of a success rate measured on `episodes` independent episodes."""
    return float(np.sqrt(rate * (1 - rate) / episodes))


def success_summary(rows: list[dict], tasks: tuple[str, ...], cameras: tuple[str, ...]) -> dict:
    """Success per task (with its standard error) and camera, and the mean over tasks, from result rows of any
    harness: each task weighs the same, so the mean's standard error combines the tasks' (sqrt of the summed
    variances, over the task count)."""
    per_task = {}
    for task in tasks:
        mine = [r for r in rows if r["task"] == task]
        rate = float(np.mean([r["success"] for r in mine]))
        per_task[task] = {
            "success": rate,
            "stderr": binomial_stderr(rate, len(mine)),
            "per_camera": {c: float(np.mean([r["success"] for r in mine if r["camera"] == c])) for c in cameras},
            "episodes": len(mine),
        }
    return {
        "mean_success": float(np.mean([t["success"] for t in per_task.values()])),
        "mean_stderr": float(np.sqrt(sum(t["stderr"] ** 2 for t in per_task.values())) / len(per_task)),
        "tasks": per_task,
        "episodes": len(rows),
    }


def summarize(rows: list[dict], settings: ControlEvalSettings, idm_tasks) -> dict:
    """`success_summary`, each task flagged when the IDM never trained on it, with the mean time and steps."""
    summary = success_summary(rows, settings.tasks, settings.cameras)
    for task, entry in summary["tasks"].items():
        entry["idm_trained_on_task"] = task in idm_tasks
    seconds = {k: float(np.mean([r["seconds"][k] for r in rows])) for k in rows[0]["seconds"]}
    return summary | {
        "mean_seconds_per_episode": seconds,
        "mean_steps": float(np.mean([r["steps"] for r in rows])),
        "mean_steps_solved": mean_steps_solved(rows),
    }


def mean_steps_solved(rows: list[dict]) -> float | None:
    """How long the solved episodes took on average (None when none was solved): how fast a planner does
    the task, which success rates alone hide."""
    steps = [r["steps"] for r in rows if r["success"]]
    return float(np.mean(steps)) if steps else None


@dataclass(frozen=True)
class PairedDifference:
    """One run's success minus another's on the same scenes: mean and standard error in points, scenes won and
    lost."""

    points: float
    stderr: float
    scenes: int
    won: int
    lost: int

    def __str__(self) -> str:
        return (
            f"{self.points:+.1f} ± {self.stderr:.1f} points on the same {self.scenes} scenes "
            f"({self.won} won, {self.lost} lost)"
        )


def paired_difference(base: dict, other: dict) -> PairedDifference | None:
    """`other`'s success minus `base`'s, scene by scene, when both ran exactly the same scenes (task, camera,
    scene seed). Pairing removes the scenes' own difficulty from the error, so it is smaller than the two means'
    errors combined. None when either lacks its episodes or the scenes differ."""

    def outcomes(result: dict) -> dict:
        return {(e["task"], e["camera"], e["seed"]): int(e["success"]) for e in result.get("episodes", [])}

    a, b = outcomes(base), outcomes(other)
    if not a or a.keys() != b.keys() or len(a) < 2:
        return None
    differences = np.array([b[scene] - a[scene] for scene in a], dtype=np.float64)  # (scenes,) in {-1, 0, 1}
    stderr = differences.std(ddof=1) / np.sqrt(len(differences))
    won, lost = int((differences > 0).sum()), int((differences < 0).sum())
    return PairedDifference(100 * differences.mean(), 100 * stderr, len(differences), won, lost)


def rate_text(rate: float, stderr: float | None) -> str:
    """A success rate as "41.8 ± 3.8 %"; summaries written before standard errors were kept show the rate alone."""
    return f"{100 * rate:.1f} %" if stderr is None else f"{100 * rate:.1f} ± {100 * stderr:.1f} %"


def markdown_table(summary: dict) -> str:
    cameras = list(next(iter(summary["tasks"].values()))["per_camera"])
    lines = [
        "| task | success | " + " | ".join(cameras) + " | episodes |",
        "|---|---|" + "---|" * len(cameras) + "---|",
    ]
    for task, t in summary["tasks"].items():
        flag = "" if t["idm_trained_on_task"] else " (IDM never saw this task)"
        cells = " | ".join(f"{100 * t['per_camera'][c]:.0f} %" for c in cameras)
        lines.append(f"| {task}{flag} | {rate_text(t['success'], t.get('stderr'))} | {cells} | {t['episodes']} |")
    mean = rate_text(summary["mean_success"], summary.get("mean_stderr"))
    lines.append(f"| **mean** | **{mean}** | " + " | " * len(cameras) + f"{summary['episodes']} |")
    timing = ", ".join(f"{k} {v:.2f} s" for k, v in summary["mean_seconds_per_episode"].items())
    solved = summary["mean_steps_solved"]
    solved_text = f" ({solved:.0f} per solved episode)" if solved is not None else ""
    lines.append(f"\nmean per episode: {summary['mean_steps']:.0f} steps{solved_text}; {timing}")
    return "\n".join(lines)


def write_reports(summary: dict, rows: list[dict], output: Path, run: dict) -> None:
    """table.md, results.json (how it was run, summary, every episode) and results.csv (one row per episode)."""
    write_text_atomic(output / "table.md", markdown_table(summary) + "\n")
    results = {"run": run, "summary": summary, "episodes": rows}
    write_text_atomic(output / "results.json", json.dumps(results, indent=2))
    fields = ["task", "camera", "seed", "success", "steps", "plans", "stall_replans"]
    seconds = list(rows[0]["seconds"])
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(fields + [f"seconds_{k}" for k in seconds])
    writer.writerows([r[k] for k in fields] + [r["seconds"][k] for k in seconds] for r in rows)
    write_text_atomic(output / "results.csv", table.getvalue())
