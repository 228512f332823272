"""SIGKILL in the middle of each training stage, then `--resume`: the losses and weights of an uninterrupted
run, bit for bit. A file of its own (it starts three training processes) so the test runners can balance it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file
from training_runs import trainer_state

from video_planner.cli import main
from video_planner.model.planner import VideoPlanner

REPO = Path(__file__).resolve().parents[1]
TRAIN_FLAGS = [
    "--steps",
    "20",
    "--autoencoder-steps",
    "15",
    "--batch-size",
    "4",
    "--autoencoder-batch-size",
    "48",
    "--warmup-steps",
    "5",
    "--checkpoint-every",
    "5",
    "--sample-every",
    "10",
]


def train_command(config: Path, dataset: Path, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "video_planner.cli",
        "train-planner",
        "--dataset",
        str(dataset),
        "--config",
        str(config),
        "--output",
        str(output),
        *TRAIN_FLAGS,
        *extra,
    ]


def kill_when(command: list[str], output: Path, ready) -> None:
    """Runs the command and SIGKILLs it as soon as its committed checkpoint satisfies `ready`."""
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        state = trainer_state(output)
        if state is not None and ready(state):
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    assert proc.wait() == -signal.SIGKILL, "training ended before it could be killed mid-run"


@pytest.fixture(scope="module")
def tiny_config_file(tmp_path_factory, tiny_planner_config) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.json"
    tiny_planner_config.save(path)
    return path


@pytest.mark.slow  # three training processes; test_train.py continues a run in-process in the default suite
def test_sigkill_then_resume_repeats_the_uninterrupted_losses(tmp_path, tiny_config_file, two_episode_dataset):
    straight = tmp_path / "straight"  # uninterrupted, in this process: the killed runs must match it bit for bit
    assert main(train_command(tiny_config_file, two_episode_dataset, straight)[3:]) == 0

    killed = tmp_path / "killed"
    command = train_command(tiny_config_file, two_episode_dataset, killed)
    kill_when(command, killed, lambda s: s["stage"] == "autoencoder" and 0 < s["step"] < 15)
    kill_when(command + ["--resume"], killed, lambda s: s["stage"] == "denoiser" and 0 < s["step"] < 20)
    assert subprocess.run(command + ["--resume"], cwd=REPO).returncode == 0

    expected, resumed = trainer_state(straight), trainer_state(killed)
    assert len(expected["losses"]["autoencoder"]) == 15 and len(expected["losses"]["denoiser"]) == 20
    assert resumed["losses"] == expected["losses"]
    weights_a = load_file(straight / "checkpoint" / "model.safetensors")
    weights_b = load_file(killed / "checkpoint" / "model.safetensors")
    assert all(np.array_equal(weights_a[k].numpy(), weights_b[k].numpy()) for k in weights_a)
    assert sorted(p.name for p in (killed / "samples").iterdir()) == ["step-000010.gif", "step-000020.gif"]
    image = np.zeros((32, 32, 3), np.uint8)
    plan = VideoPlanner.from_pretrained(killed / "checkpoint").plan(image, "press the button from the top", seed=0)
    assert plan.frames.shape == (3, 32, 32, 3)

    Image.fromarray(image).save(tmp_path / "first.png")
    plan_args = ["--planner", str(killed / "checkpoint"), "--image", str(tmp_path / "first.png")]
    plan_args += ["--instruction", "press the button from the top", "--output", str(tmp_path / "plan.gif")]
    assert main(["plan", *plan_args]) == 0
    gif = Image.open(tmp_path / "plan.gif")
    assert gif.n_frames == 4 and gif.size == (32, 32)  # the conditioning frame, then 3 planned frames
