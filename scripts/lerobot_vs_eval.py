"""Success of one exported policy through LeRobot's own `lerobot-eval` against `vp eval`, task by task.

    python scripts/lerobot_vs_eval.py --policy outputs/lerobot/avdc11 --tasks avdc11 --episodes 3 \
        --output outputs/lerobot_vs_eval/avdc11
    python scripts/results_table.py outputs/lerobot_vs_eval/avdc11/{lerobot_eval,vp_eval_corner2}/results.json \
        outputs/lerobot_vs_eval/avdc11/vp_eval_corner4{,+effects}/results.json \
        --names lerobot-eval "vp eval, corner2" "vp eval, corner4" "vp eval, corner4 + effects"

For each task it runs `lerobot-eval --policy.path=POLICY --env.type=metaworld --env.task=<task>-v3
--eval.n_episodes=N` (LeRobot's MetaWorld env, its seeds from 1000, its 500-step limit), and `vp eval` with
the policy directory's own planner and IDM, its replanning interval and denoising steps, on the same N scenes
per task seen three ways: from our `corner2` camera; from `corner4` (LeRobot's `corner2` is moved to our
`corner4`'s pose); and from `corner4` with gymnasium's shadows, reflections and skybox (`--render-effects`),
which LeRobot's env renders and our recipes do not. Each column changes one thing, so the viewpoint and the
image's look are separated from everything else. Every other protocol difference is listed in
docs/lerobot.md, "MetaWorld in `lerobot-eval` is not `vp eval`'s MetaWorld".

Each side writes `vp eval`'s `results.json` layout (summary per task with its standard error, the command and
commit of the run), so `scripts/results_table.py` sets them side by side. Both sides resume: a task whose
`lerobot-eval` finished is not rerun (each runs into a staging folder, renamed when done), and `vp eval`
skips finished episodes.
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from foundation.atomic_dir import write_text_atomic
from foundation.config_io import read_json
from foundation.errors import InputError, exit_status
from foundation.provenance import run_record
from inverse_dynamics.model import InverseDynamics
from robot_io.metaworld_tasks import env_id, resolve_tasks
from video_planner.control.closed_loop_eval import evaluate_control, markdown_table, rate_text, success_summary
from video_planner.control.settings import ControlEvalSettings
from video_planner.model.loading import load_planner
from video_planner.model.planner_source import PlannerSource

LEROBOT_FIRST_SEED = 1000  # lerobot-eval's default --seed: episode i of a task resets with seed 1000 + i
LEROBOT_CAMERA = "lerobot corner2"  # the label of LeRobot's camera in the rows (our corner4's pose)


def lerobot_eval_task(policy: Path, task: str, episodes: int, output: Path) -> dict:
    """`lerobot-eval` on one MetaWorld task; its `eval_info.json`. A finished task's folder is reused; an
    unfinished one (a crash) is removed and rerun."""
    done = output / task
    if (done / "eval_info.json").exists():
        return json.loads((done / "eval_info.json").read_text())
    staging = output / f"{task}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        str(Path(sys.executable).with_name("lerobot-eval")),
        f"--policy.path={policy}",
        "--policy.device=cpu",
        "--env.type=metaworld",
        f"--env.task={env_id(task)}",
        f"--eval.n_episodes={episodes}",
        "--eval.batch_size=1",
        f"--seed={LEROBOT_FIRST_SEED}",
        f"--output_dir={staging}",
    ]
    print(f"lerobot-eval {task}: {episodes} episodes", flush=True)
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"lerobot-eval on {task} exited {result.returncode}:\n{result.stderr[-3000:]}")
    # its video paths name the staging folder: point them at the folder it becomes
    info = json.loads((staging / "eval_info.json").read_text().replace(f"{staging.name}/", f"{done.name}/"))
    info["command"] = command
    info["wall_seconds"] = round(time.monotonic() - started, 1)
    write_text_atomic(staging / "eval_info.json", json.dumps(info, indent=2))
    staging.rename(done)
    return info


def lerobot_rows(task: str, info: dict) -> list[dict]:
    """`vp eval`-style result rows of one task's `eval_info.json` (its one task's per-episode successes)."""
    (entry,) = info["per_task"]
    seconds = info["wall_seconds"] / len(entry["metrics"]["successes"])
    return [
        {
            "task": task,
            "camera": LEROBOT_CAMERA,
            "seed": LEROBOT_FIRST_SEED + i,
            "success": bool(success),
            "seconds": {"episode": seconds},
        }
        for i, success in enumerate(entry["metrics"]["successes"])
    ]


def lerobot_side(policy: Path, tasks: tuple[str, ...], episodes: int, output: Path, provenance: dict) -> dict:
    """Every task through `lerobot-eval`; the summary in `vp eval`'s layout (success per task ± its standard
    error, the mean over tasks), also written to `output/results.json`."""
    rows = [row for task in tasks for row in lerobot_rows(task, lerobot_eval_task(policy, task, episodes, output))]
    summary = success_summary(rows, tasks, (LEROBOT_CAMERA,))
    run = provenance | {"episode_seconds": round(sum(r["seconds"]["episode"] for r in rows), 1)}
    write_text_atomic(output / "results.json", json.dumps({"run": run, "summary": summary, "episodes": rows}, indent=2))
    return summary


def policy_settings(policy: Path) -> dict:
    """What `vp eval` must share with the exported policy: its replanning interval and denoising steps."""
    for part in ("planner", "idm"):
        if not (policy / part).is_dir():
            raise InputError(f"{policy} has no {part}/; give a directory written by vp export-lerobot")
    config = read_json(policy / "config.json", {"type": str, "replan_every": int})
    if config["type"] != "video_planner":
        raise InputError(f"{policy} holds a {config['type']!r} policy; give one written by vp export-lerobot")
    return config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", type=Path, required=True, help="a directory written by vp export-lerobot")
    parser.add_argument("--tasks", default="avdc11", help="MetaWorld tasks, comma-separated, or avdc11")
    parser.add_argument("--episodes", type=int, default=3, help="per task, on each side and camera")
    parser.add_argument(
        "--vp-runs",
        default="corner2,corner4,corner4+effects",
        help="vp eval's runs, comma-separated: a camera each, +effects to draw gymnasium's shadows and skybox",
    )
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()

    def compare() -> None:
        if args.episodes < 1:
            raise InputError(f"--episodes must be at least 1, got {args.episodes}")
        config = policy_settings(args.policy)
        tasks = tuple(resolve_tasks(args.tasks.split(",")))
        provenance = run_record(["python", *sys.argv])
        planner = load_planner(
            PlannerSource(planner=str(args.policy / "planner"), sampling_steps=config.get("sampling_steps"))
        )
        idm = InverseDynamics.from_pretrained(args.policy / "idm").eval()
        for run in args.vp_runs.split(","):
            camera, effects = run.removesuffix("+effects"), run.endswith("+effects")
            settings = ControlEvalSettings(
                tasks=tasks,
                cameras=(camera,),
                seeds=args.episodes,
                replan_every=config["replan_every"],
                render_effects=effects,
            )
            summary = evaluate_control(planner, idm, settings, args.output / f"vp_eval_{run}", provenance=provenance)
            print(f"vp eval, {run}:\n" + markdown_table(summary))
        lerobot = lerobot_side(args.policy, tasks, args.episodes, args.output / "lerobot_eval", provenance)
        print("lerobot-eval:")
        for task, t in lerobot["tasks"].items():
            print(f"  {task}: {rate_text(t['success'], t['stderr'])}")
        print(f"  mean: {rate_text(lerobot['mean_success'], lerobot['mean_stderr'])}")

    return exit_status(compare)


if __name__ == "__main__":
    sys.exit(main())
