"""Closed-loop task success in MetaWorld, with AVDC's protocol: tasks × cameras × scene seeds.

    vp eval --tasks avdc11 --seeds 25 --planner outputs/planner/avdc11-cpu/checkpoint \
        --idm outputs/idm/avdc11/checkpoint --output outputs/eval/avdc11
    vp eval --tasks avdc11 --seeds 25 --planner oracle --idm ...   # oracle plans: the IDM + executor alone

Each finished episode is appended to `episodes.jsonl`, so an interrupted evaluation resumes where it
stopped; the same settings give the same table. Scene seeds start at 1,000,000, far from every recipe's.
"""

import csv
import itertools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from inverse_dynamics.model import InverseDynamics
from robot_io.errors import InputError
from robot_io.executor import Executor
from robot_io.metaworld_env import MAX_EPISODE_STEPS, MetaWorldEnv
from robot_io.metaworld_tasks import resolve_tasks, validate_camera
from robot_io.rollout_store import open_rollout_store, record_episodes
from video_planner.agent import Agent, ReplanRule
from video_planner.oracle_planner import OraclePlanner
from video_planner.video_io import write_video

EPISODES_FILE = "episodes.jsonl"
ORACLE = "oracle"


@dataclass(frozen=True)
class ControlEvalSettings:
    tasks: tuple[str, ...]
    cameras: tuple[str, ...] = ("corner", "corner2", "corner3")
    seeds_per_camera: int = 25
    first_seed: int = 1_000_000  # camera j, episode i uses scene seed first_seed + 1000·j + i
    max_episode_steps: int = MAX_EPISODE_STEPS
    replan_every: int = 24
    videos: bool = False  # an mp4 per rollout: execution left, the planned frame it heads for right

    def __post_init__(self):
        object.__setattr__(self, "tasks", tuple(resolve_tasks(list(self.tasks))))
        object.__setattr__(self, "cameras", tuple(validate_camera(c) for c in self.cameras))
        if self.seeds_per_camera < 1 or self.seeds_per_camera > 1000:
            raise InputError(f"seeds per camera must be in [1, 1000], got {self.seeds_per_camera}")

    def episodes(self) -> list[tuple[str, str, int]]:
        return [
            (task, camera, self.first_seed + 1000 * j + i)
            for task in self.tasks
            for j, camera in enumerate(self.cameras)
            for i in range(self.seeds_per_camera)
        ]


def _read_done(path: Path) -> dict[tuple, dict]:
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(r["task"], r["camera"], r["seed"]): r for r in rows}


def evaluate_control(
    planner_source: str,
    idm: InverseDynamics,
    settings: ControlEvalSettings,
    output: Path,
    *,
    record: bool = False,
    show_progress: bool = True,
) -> dict:
    """Runs every (task, camera, seed) episode not already in `output/episodes.jsonl`; returns the summary.

    With `record`, every rollout also lands in the LeRobotDataset `output/rollouts` (with the planned
    frame of each step); a (task, camera) group's episodes and log rows are committed together.
    """
    output.mkdir(parents=True, exist_ok=True)
    _check_settings(output, planner_source, idm, settings, record)
    done = _read_done(output / EPISODES_FILE)
    todo = [e for e in settings.episodes() if e not in done]
    planner = None
    if planner_source != ORACLE and todo:
        from video_planner.planner import VideoPlanner

        planner = VideoPlanner.from_pretrained(planner_source)
    store = open_rollout_store(output / "rollouts", idm.config.image_size) if record else None
    total = len(settings.episodes())
    bar = tqdm(total=total, initial=total - len(todo), desc="eval", disable=not show_progress)
    for (task, camera), group in itertools.groupby(todo, key=lambda e: e[:2]):
        size, steps = idm.config.image_size, settings.max_episode_steps
        rows, episodes = [], []
        with MetaWorldEnv(task, camera, size, max_episode_steps=steps) as env:
            oracle = OraclePlanner(env, frame_stride=idm.config.chunk_size) if planner is None else None
            agent = Agent(planner or oracle, idm, ReplanRule(settings.replan_every))
            for _, _, seed in group:
                rollout = Executor(env, agent, record_images=record or settings.videos).run(seed)
                rows.append(_episode_row(task, camera, seed, rollout, agent))
                if record or settings.videos:
                    targets = np.stack([agent.target_frame(t) for t in range(rollout.steps)])  # (T, H, W, 3)
                    episodes.append(rollout.to_episode(camera, targets))
                if settings.videos:
                    side_by_side = np.concatenate([rollout.images, targets], axis=2)  # (T, H, 2W, 3)
                    write_video(output / "videos" / f"{task}_{camera}_{seed}.mp4", side_by_side[::2], fps=20)
                bar.update(1)
        if store is not None:
            record_episodes(store, episodes, [f"{r['task']}/{r['camera']}/{r['seed']}" for r in rows])
        with (output / EPISODES_FILE).open("a") as log:
            log.writelines(json.dumps(row) + "\n" for row in rows)
    bar.close()
    wanted = set(settings.episodes())
    rows = [r for key, r in _read_done(output / EPISODES_FILE).items() if key in wanted]
    summary = summarize(rows, settings, idm.trained_tasks)
    write_reports(summary, rows, output)
    return summary


def _check_settings(output: Path, planner_source: str, idm: InverseDynamics, settings, record: bool) -> None:
    """Refuses to mix episodes of another evaluation into `output`."""
    path = output / "settings.json"
    current = {"planner": planner_source, "idm_tasks": sorted(idm.trained_tasks), "record": record, **asdict(settings)}
    current = json.loads(json.dumps(current))
    if path.is_file() and json.loads(path.read_text()) != current:
        raise InputError(f"{output} holds an evaluation with other settings; choose another --output")
    path.write_text(json.dumps(current, indent=2))


def _episode_row(task: str, camera: str, seed: int, rollout, agent: Agent) -> dict:
    return {
        "task": task,
        "camera": camera,
        "seed": seed,
        "success": rollout.success,
        "steps": rollout.steps,
        "plans": len(agent.log.plans),
        "stall_replans": agent.log.stall_replans,
        "seconds": {k: round(v, 4) for k, v in (rollout.seconds | agent.log.seconds).items()},
    }


def summarize(rows: list[dict], settings: ControlEvalSettings, idm_tasks) -> dict:
    tasks = {}
    for task in settings.tasks:
        mine = [r for r in rows if r["task"] == task]
        tasks[task] = {
            "success": float(np.mean([r["success"] for r in mine])),
            "per_camera": {
                c: float(np.mean([r["success"] for r in mine if r["camera"] == c])) for c in settings.cameras
            },
            "episodes": len(mine),
            "idm_trained_on_task": task in idm_tasks,
        }
    seconds = {k: float(np.mean([r["seconds"][k] for r in rows])) for k in rows[0]["seconds"]}
    return {
        "mean_success": float(np.mean([t["success"] for t in tasks.values()])),
        "tasks": tasks,
        "episodes": len(rows),
        "mean_seconds_per_episode": seconds,
        "mean_steps": float(np.mean([r["steps"] for r in rows])),
    }


def markdown_table(summary: dict) -> str:
    cameras = list(next(iter(summary["tasks"].values()))["per_camera"])
    lines = [
        "| task | success | " + " | ".join(cameras) + " | episodes |",
        "|---|---|" + "---|" * len(cameras) + "---|",
    ]
    for task, t in summary["tasks"].items():
        flag = "" if t["idm_trained_on_task"] else " (IDM never saw this task)"
        cells = " | ".join(f"{100 * t['per_camera'][c]:.0f} %" for c in cameras)
        lines.append(f"| {task}{flag} | {100 * t['success']:.1f} % | {cells} | {t['episodes']} |")
    lines.append(
        f"| **mean** | **{100 * summary['mean_success']:.1f} %** | " + " | " * len(cameras) + f"{summary['episodes']} |"
    )
    timing = ", ".join(f"{k} {v:.2f} s" for k, v in summary["mean_seconds_per_episode"].items())
    lines.append(f"\nmean per episode: {summary['mean_steps']:.0f} steps; {timing}")
    return "\n".join(lines)


def write_reports(summary: dict, rows: list[dict], output: Path) -> None:
    """table.md, results.json (summary + every episode) and results.csv (one row per episode)."""
    (output / "table.md").write_text(markdown_table(summary) + "\n")
    (output / "results.json").write_text(json.dumps({"summary": summary, "episodes": rows}, indent=2))
    with (output / "results.csv").open("w", newline="") as f:
        fields = ["task", "camera", "seed", "success", "steps", "plans", "stall_replans"]
        seconds = list(rows[0]["seconds"])
        writer = csv.writer(f)
        writer.writerow(fields + [f"seconds_{k}" for k in seconds])
        for r in rows:
            writer.writerow([r[k] for k in fields] + [r["seconds"][k] for k in seconds])
