"""The project's main job, seen once: the planner imagines a task being done from the robot's camera image,
the inverse-dynamics model acts the plan out in MetaWorld, on a few AVDC-11 tasks (`make demo`).

    python scripts/demo.py                                     # the shipped default models, three tasks
    python scripts/demo.py --planner outputs/planner/avdc11-cpu/checkpoint --idm outputs/idm/avdc11/checkpoint \
        --tasks door-close,faucet-open --output outputs/demo

Each task runs one episode from one camera, on `vp eval`'s first evaluation scene of that camera, so its outcome
is one row of the AVDC-11 evaluation. `OUTPUT/report.md` shows per task the instruction, the outcome and a GIF:
the camera on the left, and on the right the planned frame the agent heads for at that step. The episodes are
`vp eval` episodes (`OUTPUT/eval` holds its results and lossless videos); the report is written in a staging
folder and moved into place, so `OUTPUT` holds one whole demo.
"""

import argparse
import sys
from pathlib import Path

import av
import numpy as np

from foundation.atomic_dir import atomic_directory
from foundation.config_io import read_json
from foundation.errors import exit_status
from foundation.provenance import run_record
from foundation.video_io import write_video
from inverse_dynamics.model import InverseDynamics
from robot_io.metaworld_tasks import instruction_for
from video_planner.control.closed_loop_eval import evaluate_control
from video_planner.control.settings import ControlEvalSettings
from video_planner.model.loading import load_planner
from video_planner.model.planner_source import PlannerSource

DEMO_TASKS = "door-open,button-press,handle-press"
GIF_SCALE = 3  # nearest-neighbour upscaling: 64 px frames are hard to see
GIF_FPS = 10  # the eval videos keep every 2nd step; the GIF every 2nd of those, so 1 s shows 40 steps


def read_video(path: Path) -> np.ndarray:
    """The frames of an mp4, (T, H, W, 3) uint8."""
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def demo_gif(video: Path, gif: Path) -> None:
    """The episode's side-by-side video as a GIF a markdown viewer plays: every 2nd frame, upscaled."""
    frames = read_video(video)[::2]  # (T, H, 2W, 3)
    frames = frames.repeat(GIF_SCALE, axis=1).repeat(GIF_SCALE, axis=2)
    write_video(gif, frames, fps=GIF_FPS)


def report(rows: list[dict], planner: str, idm: str, camera: str) -> str:
    """report.md: a table of the episodes, then each task's GIF."""
    lines = [
        "# video-planner demo",
        "",
        f"Planner `{planner}`, inverse dynamics `{idm}`, camera `{camera}`, one episode per task on its first",
        "evaluation scene. Each GIF shows the camera on the left and, on the right, the planned frame the",
        "agent is heading for at that step; the agent plans again every few steps. A task may fail: it counts",
        "as solved when the simulator reports success within the step limit, which ends the episode.",
        "",
        "| task | instruction | outcome | steps | plans | planning s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        outcome = "solved" if r["success"] else "failed"
        plan_s = r["seconds"]["plan"]
        line = (
            f'| {r["task"]} | "{instruction_for(r["task"])}" | {outcome} | {r["steps"]} | {r["plans"]} | {plan_s:.1f} |'
        )
        lines.append(line)
    for r in rows:
        lines += ["", f'## {r["task"]}: "{instruction_for(r["task"])}"', "", f"![{r['task']}]({r['task']}.gif)"]
    return "\n".join(lines) + "\n"


def run_demo(args: argparse.Namespace, command: list[str]) -> Path:
    settings = ControlEvalSettings(
        tasks=tuple(args.tasks.split(",")),
        cameras=(args.camera,),
        seeds=1,
        max_episode_steps=args.max_steps,
        videos=True,
    )
    planner = load_planner(PlannerSource(planner=args.planner, sampling_steps=args.sampling_steps))
    idm = InverseDynamics.from_pretrained(args.idm).eval()
    with atomic_directory(args.output) as staging:
        evaluate_control(planner, idm, settings, staging / "eval", provenance=run_record(command))
        rows = read_json(staging / "eval" / "results.json", {"episodes": list})["episodes"]  # in episode order
        for r in rows:
            video = staging / "eval" / "videos" / f"{r['task']}_{r['camera']}_{r['seed']}.mp4"
            demo_gif(video, staging / f"{r['task']}.gif")
        (staging / "report.md").write_text(report(rows, args.planner, args.idm, args.camera))
    return args.output / "report.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planner", default="default", help="planner directory, Hub id, or default (shipped)")
    parser.add_argument("--idm", default="default", help="IDM directory, Hub id, or default (shipped)")
    parser.add_argument("--tasks", default=DEMO_TASKS, help="MetaWorld tasks, comma-separated")
    parser.add_argument("--camera", default="corner", help="the MetaWorld camera the robot sees through")
    parser.add_argument("--max-steps", type=int, default=500, help="an episode's step limit (AVDC: 500)")
    parser.add_argument("--sampling-steps", type=int, help="denoising steps per plan; unset: the planner's")
    parser.add_argument("--output", type=Path, default=Path("outputs/demo"))
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)

    def demo() -> None:
        path = run_demo(args, ["python", "scripts/demo.py", *argv])
        print(f"report: {path}")
        print("\n".join(line for line in path.read_text().splitlines() if line.startswith("|")))

    return exit_status(demo)


if __name__ == "__main__":
    sys.exit(main())
