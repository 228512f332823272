"""The daemon's control loop on the MetaWorld robot: tick lateness at 10 and 30 fps while plans are computed in the
background, against the same loop with no planning under way, and the e-stop's latency.

The planner is the cpu preset with random weights (its cost, not its plans, matters here), the IDM the default
config. "planning" asks for a plan every 8 ticks, so at either rate the planner thread is busy nearly all the
time; "idle planner" follows one plan for the whole run (requested once). Variants run interleaved, round after
round. Lateness is each tick's start minus its deadline, as a share of the period; the goal is p99 ≤ 10 %.

Usage: .venv/bin/python scripts/bench_daemon.py [--seconds 8 --repeats 2 --estops 10] [--quick] [--ratios FILE]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_timing import Ratio, save_ratios

from foundation.errors import InputError, exit_status
from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.model import InverseDynamics
from robot_io.lerobot_robot import MetaWorldRobot, MetaWorldRobotConfig
from video_planner.daemon.daemon import Daemon
from video_planner.daemon.robot_link import RobotLink
from video_planner.daemon.settings import DaemonSettings
from video_planner.model.config import preset
from video_planner.model.planner import VideoPlanner

RATES = (10, 30)
NEVER = 10**9  # replan_every for the idle-planner baseline: one plan per run


def episode(robot, planner, idm, fps: int, seconds: float, replan_every: int) -> list[float]:
    """Tick lateness (share of the period) of one episode, from its first executed action on; an episode the
    watchdog ends is an error (its loop stalled)."""
    ticks = int(fps * seconds)
    stale_after = max(replan_every, 3 * fps)  # a plan takes about 1 s here: at 30 fps it is 30 ticks old on arrival
    settings = DaemonSettings(fps=fps, replan_every=replan_every, stale_after=stale_after, max_episode_steps=ticks)
    daemon = Daemon(RobotLink.of(robot), planner, idm, settings)
    daemon.start("open the door", scene_seed=0)
    while daemon.status()["state"] == "running":
        time.sleep(0.05)
    status = daemon.status()
    lateness = daemon.progress.lateness_s
    first_action = status["holds"].get("no plan yet", 0)  # the ticks before the first plan arrived
    daemon.close()
    if status["estop_reason"]:
        raise RuntimeError(f"{fps} fps, replan every {replan_every}: e-stopped: {status['estop_reason']}")
    return [late * fps for late in lateness[first_action:]]


def estop_latency(robot, planner, idm, times: int) -> list[float]:
    """Seconds from `estop()` being called to its return, after which nothing is sent; at 30 fps."""
    latencies = []
    for _ in range(times):
        daemon = Daemon(RobotLink.of(robot), planner, idm, DaemonSettings(fps=30, replan_every=8, stale_after=90))
        daemon.start("open the door", scene_seed=len(latencies))
        while daemon.status()["actions"] < 5:
            if daemon.status()["state"] != "running":
                raise RuntimeError(f"the episode ended before 5 actions: {daemon.status()}")
            time.sleep(0.01)
        time.sleep(np.random.default_rng(len(latencies)).uniform(0, 1 / 30))  # at a random phase of the tick
        start = time.perf_counter()
        daemon.estop()
        latencies.append(time.perf_counter() - start)
        daemon.close()
    return latencies


def lateness_ratios(samples: dict[tuple[int, str], list[float]]) -> list[Ratio]:
    """Per rate, the p99 tick lateness while planning over that with an idle planner: what planning in the
    background costs the control loop. The e-stop's latency has no baseline."""

    def p50_p99(fps: int, mode: str) -> tuple[float, float]:
        p50, p99 = np.percentile(samples[fps, mode], [50, 99]) * 100
        return float(p50), float(p99)

    ratios = []
    for fps in RATES:
        (planning_p50, planning_p99), (idle_p50, idle_p99) = p50_p99(fps, "planning"), p50_p99(fps, "idle planner")
        ratios.append(
            Ratio(
                benchmark="daemon tick lateness",
                variant=f"planning in the background, {fps} fps",
                baseline=f"idle planner, {fps} fps",
                ratio=planning_p99 / idle_p99,
                meaning="the idle planner's p99 lateness (lower is better)",
                detail=f"{planning_p50:.2f} / {planning_p99:.2f} % vs {idle_p50:.2f} / {idle_p99:.2f} % of the period "
                "(p50 / p99)",
            )
        )
    return ratios


def bench_daemon(seconds: float, repeats: int, estops: int) -> tuple[str, list[Ratio]]:
    """The lateness table per rate and background, the e-stop's latency, and the lateness ratios."""
    if seconds <= 0 or repeats < 1 or estops < 1:
        raise InputError(f"--seconds > 0, --repeats >= 1, --estops >= 1; got {seconds}, {repeats}, {estops}")
    torch.manual_seed(0)
    planner = VideoPlanner(preset("cpu")).eval()
    idm = InverseDynamics(InverseDynamicsConfig()).eval()
    samples = {(fps, mode): [] for fps in RATES for mode in ("planning", "idle planner")}
    with tempfile.TemporaryDirectory() as calibration:
        config = MetaWorldRobotConfig(task="door-open", image_size=64, calibration_dir=Path(calibration))
        with MetaWorldRobot(config) as robot:
            episode(robot, planner, idm, 10, 1.0, 8)  # warm-up: first plan, first IDM call
            for _ in range(repeats):
                for fps in RATES:
                    samples[fps, "planning"] += episode(robot, planner, idm, fps, seconds, 8)
                    samples[fps, "idle planner"] += episode(robot, planner, idm, fps, seconds, NEVER)
            stops = estop_latency(robot, planner, idm, estops)
    lines = [
        f"daemon control loop, MetaWorld robot (64 px), cpu-preset planner (random weights, "
        f"{planner.config.sampling_steps} steps), {torch.get_num_threads()} torch threads, {repeats} interleaved "
        f"rounds of {seconds:g} s",
        "| fps | background | ticks | lateness p50 (% period) | p99 | max | p99 vs idle planner |",
        "|---|---|---|---|---|---|---|",
    ]
    for fps in RATES:
        idle_p99 = np.percentile(samples[fps, "idle planner"], 99)
        for mode in ("planning", "idle planner"):
            values = np.asarray(samples[fps, mode]) * 100
            p50, p99 = np.percentile(values, 50), np.percentile(values, 99)
            ratio = p99 / (idle_p99 * 100) if idle_p99 > 0 else float("inf")
            lines.append(
                f"| {fps} | {mode} | {len(values)} | {p50:.1f} | {p99:.1f} | {values.max():.1f} | {ratio:.1f}x |"
            )
    median_ms, max_ms = statistics.median(stops) * 1e3, max(stops) * 1e3
    lines.append(
        f"e-stop at 30 fps, {estops} times: returns (nothing sent after) in median {median_ms:.2f} ms, "
        f"max {max_ms:.2f} ms ({max_ms * 30 / 1e3:.2f} periods)"
    )
    return "\n".join(lines), lateness_ratios(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each measured episode (default: 8)")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds (default: 2)")
    parser.add_argument("--estops", type=int, default=10, help="e-stops timed (default: 10)")
    parser.add_argument("--quick", action="store_true", help="2 s episodes, 1 round, 3 e-stops")
    parser.add_argument(
        "--ratios", type=Path, help="append the headline ratios as JSON lines (scripts/bench_all.py reads them)"
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.repeats, args.estops = 2.0, 1, 3

    def run() -> None:
        report, ratios = bench_daemon(args.seconds, args.repeats, args.estops)
        print(report)
        save_ratios(args.ratios, ratios)

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
