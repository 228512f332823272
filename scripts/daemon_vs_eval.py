"""Success through the daemon against `vp eval`: the same planner and IDM, the same tasks, cameras and scenes,
run once by `vp eval`'s synchronous loop and once through the daemon driving the `metaworld` robot at a real
control rate. Each side writes `vp eval`'s `results.json`, so `scripts/results_table.py` puts them side by side.

    .venv/bin/python scripts/daemon_vs_eval.py --planner outputs/planner/avdc11-cpu/checkpoint \
        --idm outputs/idm/avdc11/checkpoint --tasks avdc11 --cameras corner --seeds 2 --fps 10 \
        --output outputs/daemon_vs_eval
    .venv/bin/python scripts/results_table.py outputs/daemon_vs_eval/eval/results.json \
        outputs/daemon_vs_eval/daemon/results.json --names "vp eval" daemon

How the daemon side differs from `vp eval`'s protocol, as a daemon must:
- plans are made in another thread while the previous plan executes, and a new plan is followed from the tick
  after it arrives (at least one action later than in `vp eval`, which waits for it);
- until the first plan arrives the arm holds, and the simulator does not step;
- plan noise comes from the daemon's seeds (`DaemonSettings.seed`), not the agent's, so single episodes may
  differ by chance: compare rates with their standard errors.
`--planner oracle` plans with the scripted expert, rolled ahead on the simulator's own thread: with it the
comparison measures the loop alone, the video model left out. While the expert rolls ahead, the daemon's next
action waits for the simulator, so at a high `--fps` give the watchdog more periods (`--watchdog-periods`).
Like `vp eval`, an episode ends at the simulator's first success or after 500 actions; the verdict is read by
this script, never by the daemon. Both sides resume: rerunning skips finished episodes.
"""

import argparse
import itertools
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from foundation.config_io import dataclass_to_dict
from foundation.errors import exit_status
from foundation.provenance import run_record
from inverse_dynamics.model import InverseDynamics
from robot_io.lerobot_robot import MetaWorldRobot, MetaWorldRobotConfig
from robot_io.metaworld_tasks import instruction_for
from video_planner.control.closed_loop_eval import (
    EPISODES_FILE,
    evaluate_control,
    markdown_table,
    read_episode_log,
    summarize,
    write_reports,
)
from video_planner.control.settings import ControlEvalSettings
from video_planner.daemon.daemon import Daemon
from video_planner.daemon.robot_link import RobotLink
from video_planner.daemon.settings import DaemonSettings
from video_planner.model.loading import load_planner
from video_planner.model.oracle_planner import Oracle
from video_planner.model.planner_source import PlannerSource
from video_planner.model.protocols import VideoPlan


class SimThreadOracle:
    """`--planner oracle` for the daemon: the scripted expert's frames from the robot's simulator, rolled ahead
    on the simulator's own thread so they never interleave with the daemon's actions."""

    def __init__(self, robot: MetaWorldRobot, idm: InverseDynamics, replan_every: int):
        chunk = idm.config.chunk_size
        self.robot = robot
        self.oracle = Oracle().planner_for(robot.env, math.ceil(replan_every / chunk), chunk)
        self.config = self.oracle.config

    def plan(self, image: np.ndarray, instruction: str, **options) -> VideoPlan:
        return self.robot.in_sim_thread(self.oracle.plan, image, instruction, **options)


class ScoredRobot(MetaWorldRobot):
    """The `metaworld` robot with `vp eval`'s episode end: after the scene's step limit of actions it stops
    stepping the simulator (a daemon keeps sending until it is stopped) and says so. Its own count, since an
    oracle rolls the simulator ahead and back between actions."""

    def reset_scene(self, seed: int) -> None:
        super().reset_scene(seed)
        self.sent = 0

    @property
    def exhausted(self) -> bool:
        return self.sent >= self.config.max_episode_steps

    def send_action(self, action: dict) -> dict:
        if self.exhausted:
            return action
        self.sent += 1
        return super().send_action(action)


def daemon_episode(daemon: Daemon, robot: ScoredRobot, task: str, camera: str, seed: int) -> dict:
    """One scene through the daemon, stopped at the simulator's first success or its step limit; its result
    row in `vp eval`'s format, with the ticks the arm held by reason."""
    started, held = time.monotonic(), dict(daemon.progress.holds)
    daemon.start(instruction_for(task), scene_seed=seed)
    while daemon.status()["state"] == "running" and not (robot.last_success or robot.exhausted):
        time.sleep(0.005)
    daemon.stop()
    status = daemon.status()
    if status["last_error"] or status["estop_reason"]:
        raise RuntimeError(f"{task} {camera} seed {seed}: {status['last_error'] or status['estop_reason']}")
    return {
        "task": task,
        "camera": camera,
        "seed": seed,
        "success": robot.last_success,
        "steps": robot.sent,
        "plans": daemon.controller.plan_number,
        "stall_replans": 0,
        "holds": {reason: n - held.get(reason, 0) for reason, n in status["holds"].items() if n > held.get(reason, 0)},
        "seconds": {"episode": round(time.monotonic() - started, 3)},
    }


def run_daemon_side(
    planner, idm, settings: ControlEvalSettings, daemon_settings: DaemonSettings, output: Path, provenance: dict
) -> dict:
    """Every episode of `settings` through the daemon (those in `output/episodes.jsonl` are reused); the
    summary, as `vp eval` writes it."""
    output.mkdir(parents=True, exist_ok=True)
    log_path = output / EPISODES_FILE
    done = {(r["task"], r["camera"], r["seed"]): r for r in read_episode_log(log_path)}
    todo = [e for e in settings.episodes() if e not in done]
    with log_path.open("a") as log, tempfile.TemporaryDirectory() as calibration:
        for (task, camera), group in itertools.groupby(todo, key=lambda e: e[:2]):
            config = MetaWorldRobotConfig(
                task=task,
                camera=camera,
                image_size=idm.config.image_size,
                max_episode_steps=settings.max_episode_steps,
                calibration_dir=Path(calibration),
            )
            with ScoredRobot(config) as robot:
                here = SimThreadOracle(robot, idm, settings.replan_every) if isinstance(planner, Oracle) else planner
                daemon = Daemon(RobotLink.of(robot), here, idm, daemon_settings)
                try:
                    for _, _, seed in group:
                        row = daemon_episode(daemon, robot, task, camera, seed)
                        done[task, camera, seed] = row
                        log.write(json.dumps(row) + "\n")
                        log.flush()
                        print(f"daemon {task} {camera} {seed}: {'solved' if row['success'] else 'failed'}", flush=True)
                finally:
                    daemon.close()
    rows = [done[key] for key in settings.episodes()]
    summary = summarize(rows, settings, idm.trained_tasks)
    episode_seconds = round(sum(row["seconds"]["episode"] for row in rows), 1)
    run = {
        "settings": dataclass_to_dict(settings),
        "daemon": dataclass_to_dict(daemon_settings),
        "episode_seconds": episode_seconds,
    }
    write_reports(summary, rows, output, run | provenance)
    return summary


def disagreements(eval_dir: Path, daemon_dir: Path) -> str:
    """How many scenes the two sides scored differently, each way."""
    scored = {}
    for side, path in (("eval", eval_dir), ("daemon", daemon_dir)):
        for row in json.loads((path / "results.json").read_text())["episodes"]:
            scored.setdefault((row["task"], row["camera"], row["seed"]), {})[side] = row["success"]
    only_eval = sum(s["eval"] and not s["daemon"] for s in scored.values())
    only_daemon = sum(s["daemon"] and not s["eval"] for s in scored.values())
    return f"{len(scored)} scenes: solved by vp eval only {only_eval}, by the daemon only {only_daemon}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planner", required=True, help="planner directory, or 'oracle' (the expert's frames)")
    parser.add_argument("--idm", required=True, help="inverse-dynamics directory")
    parser.add_argument("--tasks", default="avdc11", help="MetaWorld tasks, comma-separated, or avdc11")
    parser.add_argument("--cameras", default="corner", help="cameras, comma-separated")
    parser.add_argument("--seeds", type=int, default=2, help="scenes per task and camera (vp eval's seeds)")
    parser.add_argument("--max-episode-steps", type=int, default=ControlEvalSettings.max_episode_steps)
    parser.add_argument("--sampling-steps", type=int, help="denoising steps per plan (default: the planner's)")
    parser.add_argument("--fps", type=int, default=10, help="the daemon's control rate")
    parser.add_argument(
        "--watchdog-periods",
        type=int,
        default=DaemonSettings.watchdog_periods,
        help="control periods of silence before the daemon's watchdog e-stops it",
    )
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()

    def compare() -> None:
        settings = ControlEvalSettings(
            tasks=tuple(args.tasks.split(",")),
            cameras=tuple(args.cameras.split(",")),
            seeds=args.seeds,
            max_episode_steps=args.max_episode_steps,
        )
        daemon_settings = DaemonSettings(
            fps=args.fps,
            replan_every=settings.replan_every,
            max_episode_steps=10**9,
            watchdog_periods=args.watchdog_periods,
        )
        source = PlannerSource(planner=args.planner, sampling_steps=args.sampling_steps)
        planner = Oracle() if args.planner == Oracle.name else load_planner(source)
        idm = InverseDynamics.from_pretrained(args.idm).eval()
        provenance = run_record(["python", *sys.argv])
        eval_summary = evaluate_control(planner, idm, settings, args.output / "eval", provenance=provenance)
        daemon_summary = run_daemon_side(planner, idm, settings, daemon_settings, args.output / "daemon", provenance)
        print("vp eval:\n" + markdown_table(eval_summary))
        print("daemon:\n" + markdown_table(daemon_summary))
        print(disagreements(args.output / "eval", args.output / "daemon"))

    return exit_status(compare)


if __name__ == "__main__":
    sys.exit(main())
