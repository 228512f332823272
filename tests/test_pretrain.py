"""`vp pretrain` from latent shards: one process, and two CPU processes under torchrun (gloo, real
torch.distributed): each rank reads its own shards, DDP ranks end with identical weights, the loss matches one
process at twice the batch, FSDP ranks hold shards yet compute DDP's steps, a stopped run resumes to the
uninterrupted losses, and (slow) a run whose rank 1 is SIGKILLed resumes to them too."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from video_planner.cli import main
from video_planner.model.planner import VideoPlanner
from video_planner.training.latent_shards import read_manifest

REPO = Path(__file__).resolve().parents[1]
SCHEDULE = ["--warmup-steps", "1", "--checkpoint-every", "2", "--learning-rate", "1e-3"]
STEPS = ["--steps", "12", *SCHEDULE]


@pytest.fixture(scope="module")
def shards(latent_shards) -> Path:
    return latent_shards


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(output: Path, shards: Path, *flags: str) -> subprocess.Popen:
    """Two CPU processes of scripts/pretrain.py under torchrun, in a process group of their own."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port"]
    command += [str(free_port()), str(REPO / "scripts" / "pretrain.py"), "--shards", str(shards)]
    command += ["--output", str(output), "--batch-size", "2", *flags]
    env = os.environ | {"OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def trainer_state(output: Path) -> dict:
    return json.loads((output / "checkpoint" / "training_state" / "trainer_state.json").read_text())


@pytest.fixture(scope="module")
def two_processes(shards, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("ddp") / "run"
    run = torchrun(output, shards, *STEPS)
    log, _ = run.communicate(timeout=300)
    assert run.returncode == 0, log
    return output


def test_one_process_writes_a_planner_directory(shards, tmp_path, capsys):
    flags = ["pretrain", "--shards", str(shards), "--batch-size", "4", *STEPS, "--output", str(tmp_path / "run")]
    assert main(flags) == 0
    assert "planner:" in capsys.readouterr().out
    planner = VideoPlanner.from_pretrained(tmp_path / "run" / "checkpoint")
    assert planner.trained_tasks == tuple(read_manifest(shards)["tasks"])
    image = np.zeros((64, 64, 3), np.uint8)
    plan = planner.plan(image, "open the door", seed=0, steps=2)
    assert plan.frames.shape[0] == planner.config.num_future_frames
    ranks = json.loads((tmp_path / "run" / "ranks.json").read_text())
    assert [r["shards"] for r in ranks] == [[s["file"] for s in read_manifest(shards)["shards"]]]


def test_two_ranks_read_disjoint_shards_and_end_with_identical_weights(two_processes, shards, tmp_path):
    ranks = json.loads((two_processes / "ranks.json").read_text())
    assert [r["shards"] for r in ranks] == [["shard-00000.safetensors"], ["shard-00001.safetensors"]]
    assert ranks[0]["weights"] == ranks[1]["weights"]
    state = trainer_state(two_processes)
    assert state["world_size"] == 2 and state["step"] == 12
    # One process at twice the batch sees the same data distribution: its losses are of the same size (a loss
    # scaled by the number of ranks, or gradients summed instead of averaged, would double them).
    single = ["pretrain", "--shards", str(shards), "--batch-size", "4", *STEPS, "--output", str(tmp_path / "one")]
    assert main(single) == 0
    one, two = np.mean(trainer_state(tmp_path / "one")["losses"]), np.mean(state["losses"])
    assert abs(two - one) < 0.5 * one, (one, two)


def test_fsdp_ranks_hold_shards_and_compute_the_ddp_runs_steps(two_processes, shards, tmp_path):
    """Two FSDP ranks each hold part of the denoiser, yet compute the DDP run's steps (its first 4 losses:
    the schedule does not depend on the step count); the checkpoint holds the whole weights."""
    output = tmp_path / "fsdp"
    run = torchrun(output, shards, "--steps", "4", *SCHEDULE, "--parallelism", "fsdp")
    log, _ = run.communicate(timeout=300)
    assert run.returncode == 0, log
    ddp = trainer_state(two_processes)["losses"][:4]
    np.testing.assert_allclose(trainer_state(output)["losses"], ddp, rtol=1e-4)
    whole = load_file(output / "checkpoint" / "training_state" / "denoiser.safetensors")
    held = [rank["weight_elements"] for rank in json.loads((output / "ranks.json").read_text())]
    assert sum(held) == sum(t.numel() for t in whole.values()) and max(held) < 0.6 * sum(held)
    VideoPlanner.from_pretrained(output / "checkpoint")


def test_a_stopped_run_resumes_to_the_uninterrupted_losses(shards, tmp_path):
    """One process: weights, optimizer, EMA and schedule come back from the checkpoint's whole tensors."""
    common = ["pretrain", "--shards", str(shards), "--batch-size", "2", *SCHEDULE]
    assert main([*common, "--steps", "2", "--output", str(tmp_path / "stopped")]) == 0
    assert main([*common, "--steps", "4", "--output", str(tmp_path / "stopped"), "--resume"]) == 0
    assert main([*common, "--steps", "4", "--output", str(tmp_path / "whole")]) == 0
    expected = trainer_state(tmp_path / "whole")["losses"]
    np.testing.assert_allclose(trainer_state(tmp_path / "stopped")["losses"], expected, rtol=1e-6)
    resumed = load_file(tmp_path / "stopped" / "checkpoint" / "model.safetensors")  # the EMA weights
    for name, tensor in load_file(tmp_path / "whole" / "checkpoint" / "model.safetensors").items():
        torch.testing.assert_close(resumed[name], tensor)


def test_fsdp_on_one_process_is_refused_in_one_line(shards, tmp_path, capsys):
    flags = ["pretrain", "--shards", str(shards), "--parallelism", "fsdp", "--output", str(tmp_path / "run")]
    assert main(flags) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "torchrun --nproc_per_node N" in err[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # two FSDP launches; the default suite runs FSDP once and resumes on one process
def test_an_fsdp_run_stopped_and_resumed_ends_with_the_ddp_runs_losses(two_processes, shards, tmp_path):
    output = tmp_path / "fsdp"
    for flags in (["--steps", "8"], ["--steps", "12", "--resume"]):
        run = torchrun(output, shards, *flags, *SCHEDULE, "--parallelism", "fsdp")
        log, _ = run.communicate(timeout=300)
        assert run.returncode == 0, log
    np.testing.assert_allclose(trainer_state(output)["losses"], trainer_state(two_processes)["losses"], rtol=1e-4)


@pytest.mark.slow  # four torchrun launches; the 2-process run above is the default suite's DDP check
def test_a_rank_killed_mid_run_resumes_to_the_uninterrupted_losses(shards, tmp_path):
    output = tmp_path / "killed"
    run = torchrun(output, shards, "--steps", "400", *SCHEDULE)  # long enough to be killed mid-run
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (output / "checkpoint" / "training_state").is_dir():
        time.sleep(0.05)
    assert run.poll() is None, run.communicate()[0]
    children = subprocess.run(["pgrep", "-P", str(run.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) == 2, children
    os.kill(max(map(int, children)), signal.SIGKILL)  # the rank started last: rank 1
    log, _ = run.communicate(timeout=120)
    assert run.returncode != 0, log
    killed_at = trainer_state(output)["step"]
    assert 2 <= killed_at < 400
    total = str(killed_at + 2)
    resumed = torchrun(output, shards, "--steps", total, *SCHEDULE, "--resume")
    log, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, log
    uninterrupted = torchrun(tmp_path / "whole", shards, "--steps", total, *SCHEDULE)
    log, _ = uninterrupted.communicate(timeout=300)
    assert uninterrupted.returncode == 0, log
    expected = trainer_state(tmp_path / "whole")["losses"]
    np.testing.assert_allclose(trainer_state(output)["losses"], expected, rtol=1e-6)
