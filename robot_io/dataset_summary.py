"""A human-readable summary of a dataset: what it holds per task, and how the experts fared."""

from collections import defaultdict
from pathlib import Path

import numpy as np

from foundation.config_io import read_json
from robot_io.collect import PROGRESS_SIDECAR, read_progress
from robot_io.dataset_io import open_dataset
from robot_io.episode_format import CAMERA_KEY, IMAGE_KEY, SUCCESS_KEY


def episode_table(root: str | Path) -> list[dict]:
    """One row per episode: index, task instruction, camera, length and success."""
    return _episode_rows(open_dataset(root))


def _episode_rows(dataset) -> list[dict]:
    table = dataset.hf_dataset.with_format("numpy")
    episodes = dataset.meta.episodes
    cameras, successes = table[CAMERA_KEY], np.asarray(table[SUCCESS_KEY]).reshape(-1)
    rows = []
    for ep, (start, length, tasks) in enumerate(
        zip(episodes["dataset_from_index"], episodes["length"], episodes["tasks"], strict=True)
    ):
        rows.append(
            {
                "episode": ep,
                "task": tasks[0],
                "camera": str(cameras[start]),
                "length": int(length),
                "success": bool(successes[start : start + length].any()),
            }
        )
    return rows


def summarize(root: str | Path) -> str:
    root = Path(root)
    dataset = open_dataset(root)
    rows = _episode_rows(dataset)
    video = dataset.meta.features[IMAGE_KEY]
    size_mb = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 2**20
    lines = [
        f"dataset {root}: {len(rows)} episodes, {dataset.meta.total_frames} frames at {dataset.meta.fps} fps, "
        f"frames {tuple(video['shape'])} {video['info']['video.codec']}, {size_mb:.1f} MiB",
        "",
        "| task | cameras | episodes | successful | mean length |",
        "|---|---|---|---|---|",
    ]
    by_task = defaultdict(list)
    for row in rows:
        by_task[row["task"]].append(row)
    for task, task_rows in sorted(by_task.items()):
        cameras = sorted({r["camera"] for r in task_rows})
        lines.append(
            f"| {task} | {', '.join(cameras)} | {len(task_rows)} | {sum(r['success'] for r in task_rows)} "
            f"| {np.mean([r['length'] for r in task_rows]):.1f} |"
        )
    sidecar = root / "meta" / PROGRESS_SIDECAR
    if sidecar.exists():
        lines += ["", expert_report(sidecar)]
    return "\n".join(lines)


def expert_report(sidecar: Path) -> str:
    """Expert attempts and failure rate per task, from the collection progress sidecar."""
    _, groups = read_progress(read_json(sidecar), str(sidecar))
    per_task = defaultdict(lambda: [0, 0])
    for key, group in groups.items():
        task = key.split("/")[0]
        per_task[task][0] += group.attempts
        per_task[task][1] += group.successes
    attempts = sum(a for a, _ in per_task.values())
    failures = attempts - sum(s for _, s in per_task.values())
    lines = [f"scripted experts: {attempts} attempts, {failures} failed ({failures / max(attempts, 1):.1%})"]
    lines += [f"  {task}: {a - s}/{a} failed" for task, (a, s) in sorted(per_task.items()) if a - s > 0]
    return "\n".join(lines)
