"""SAIL's filter step: which of an iteration's rollouts the planner and IDM are fine-tuned on.

    none     every rollout
    oracle   the simulator's success flag (rollouts that record one: not a real arm's)
    learned  the success detector's verdict on (first frame, last frame, instruction): no simulator oracle.
             Either every rollout at or above a probability threshold, or (`keep_fraction`) that share of
             each task's rollouts, the ones the detector rates likeliest solved: on tasks it never saw, its
             probabilities rank better than they are calibrated (docs/results/sail.md, "Ranking, per task")

The kept rollouts are copied into their own LeRobotDataset (with their planned frames) in one atomic
append; `filter.json`, written after it, marks the step done and holds every verdict and, when a detector
is given and the rollouts record the simulator's labels, its precision and recall against them.
"""

import json
import shutil
from pathlib import Path

import numpy as np

from foundation.atomic_dir import write_text_atomic
from foundation.config_io import read_json
from foundation.errors import InputError
from foundation.hub import weights_digest
from robot_io.dataset_io import read_end_frames, read_episodes
from robot_io.metaworld_tasks import task_of_instruction
from robot_io.rollout_store import open_rollout_store, record_episodes, recorded_outcomes, recorded_robot, recorded_rows
from video_planner.sail.train_success import detector_verdicts, verdict_scores

FILTER_FILE = "filter.json"


def load_detector(directory: str | None):
    """The success detector at `directory` (None without one)."""
    if directory is None:
        return None
    from video_planner.sail.success_detector import SuccessDetector

    return SuccessDetector.from_pretrained(directory)


def filter_settings(filter_name: str, detector, threshold: float, keep_fraction: float | None) -> dict:
    """What decides a filter's verdicts, as recorded in `filter.json`: a result is only reused under the same."""
    return {
        "filter": filter_name,
        "detector": None if detector is None else weights_digest(detector),
        "threshold": threshold,
        "keep_fraction": keep_fraction,
    }


def read_filter_result(iteration_dir: Path, expected: dict | None = None) -> dict | None:
    """The content of an iteration's `filter.json`: None until its filter step has finished. With `expected`
    filter settings, a result written under other settings (an iteration copied from another run, a changed
    detector) is refused in one line, never trusted."""
    path = iteration_dir / FILTER_FILE
    if not path.is_file():
        return None
    result = read_json(path, keys={})
    if expected is not None and result.get("settings") != expected:
        saved = result.get("settings") or {}
        changed = sorted(k for k in expected if saved.get(k) != expected[k])
        raise InputError(
            f"{path} was written under other filter settings ({', '.join(changed)} differ); delete it and "
            f"{iteration_dir / 'kept'} to filter again, or rerun with its settings"
        )
    return result


def filter_rollouts(
    rollouts: Path,
    kept: Path,
    filter_name: str,
    detector,
    image_size: int,
    threshold: float = 0.5,
    keep_fraction: float | None = None,
):
    """Writes the kept rollouts of the dataset `rollouts` to `kept` (no dataset when none is kept) and
    `filter.json` next to it; returns that file's content. Reruns after a crash start the copy over."""
    settings = filter_settings(filter_name, detector, threshold, keep_fraction)
    finished = read_filter_result(kept.parent, settings)
    if finished is not None:
        return finished
    robot, with_outcomes = recorded_robot(rollouts), recorded_outcomes(rollouts)
    if filter_name == "oracle" and not with_outcomes:
        raise InputError(
            f"{rollouts} records no simulator verdict (a robot's episodes): filter with --filter learned or none"
        )
    rows = recorded_rows(open_rollout_store(rollouts, image_size, robot, with_outcomes))
    oracle = np.array([row["success"] for row in rows], dtype=bool) if with_outcomes else None
    tasks = np.array([row.get("task") or task_of_instruction(row["instruction"]) for row in rows])
    probabilities = verdicts = None
    if detector is not None:
        firsts, lasts, instructions = read_end_frames(rollouts)
        probabilities = detector.probabilities(list(firsts), list(lasts), instructions)
        verdicts = detector_verdicts(probabilities, tasks, threshold, keep_fraction)
    keep = {"none": np.ones(len(rows), dtype=bool), "oracle": oracle, "learned": verdicts}[filter_name]
    shutil.rmtree(kept, ignore_errors=True)
    kept.parent.mkdir(parents=True, exist_ok=True)
    if keep.any():
        chosen = np.flatnonzero(keep).tolist()
        store = open_rollout_store(kept, image_size, robot, with_outcomes)
        record_episodes(store, read_episodes(rollouts, chosen), [rows[i] for i in chosen])
    result = {"filter": filter_name, "settings": settings, "rollouts": len(rows), "kept": int(keep.sum())}
    if oracle is not None:
        result |= {
            "oracle_successes": int(oracle.sum()),
            "kept_oracle_successes": int((keep & oracle).sum()),
            "detector": None if probabilities is None else verdict_scores(verdicts, oracle, probabilities),
        }
    result["per_task"] = {task: _task_counts(tasks == task, keep, oracle) for task in sorted(set(tasks))}
    result["verdicts"] = [
        {"task": str(tasks[i]), "camera": row.get("camera"), "seed": row["seed"]}
        | ({} if oracle is None else {"success": bool(oracle[i])})
        | {"kept": bool(keep[i])}
        | ({} if probabilities is None else {"probability": round(float(probabilities[i]), 4)})
        for i, row in enumerate(rows)
    ]
    write_text_atomic(kept.parent / FILTER_FILE, json.dumps(result, indent=2))
    return result


def _task_counts(mine: np.ndarray, keep: np.ndarray, oracle: np.ndarray | None) -> dict:
    """One task's rollouts, kept ones and (with the simulator's labels) solved ones. (B,) bool masks"""
    counts = {"rollouts": int(mine.sum()), "kept": int((mine & keep).sum())}
    return counts if oracle is None else counts | {"oracle_successes": int((mine & oracle).sum())}
