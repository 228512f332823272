"""SIGKILL in the middle of a SAIL iteration, then the same command again: it continues where the run stopped and
never runs an episode twice. A file of its own (a SAIL process is started and killed) so the test runners can
balance it."""

import os
import signal
import subprocess
import sys
import time

import pytest
from sail_runs import TASKS, result_rows, sail_settings, save_untrained_models

from foundation.config_io import dataclass_to_dict
from robot_io.dataset_io import open_dataset
from video_planner.sail.loop import run_sail


@pytest.fixture(scope="module")
def models(tmp_path_factory, text_encoder, tiny_planner_config):
    return save_untrained_models(tmp_path_factory.mktemp("sail_models"), text_encoder, tiny_planner_config)


def test_a_kill_mid_iteration_resumes_without_duplicating_episodes(tmp_path, models):
    output = tmp_path / "run"
    settings = sail_settings(models, tasks=TASKS)
    args = [sys.executable, "-m", "video_planner.cli", "sail", "--output", str(output)]
    for key, value in dataclass_to_dict(settings).items():
        flag = f"--{key.replace('_', '-')}"
        if isinstance(value, bool):
            args.append(flag if value else f"--no-{flag[2:]}")
        elif value not in (None, []):
            args += [flag, ",".join(value) if isinstance(value, list) else str(value)]
    first_group = output / "iter_0" / "rollouts" / "rollouts" / "meta" / "rollout_progress.json"
    process = subprocess.Popen(args, env=os.environ | {"HF_HUB_OFFLINE": "1"}, stderr=subprocess.DEVNULL)
    while not first_group.is_file():  # one task's rollouts are committed, the other's are running
        assert process.poll() is None, "the run ended before it could be killed"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL

    run_sail(settings, output, show_progress=False)
    rollouts = open_dataset(output / "iter_0" / "rollouts" / "rollouts")
    assert rollouts.meta.total_episodes == 4 and open_dataset(output / "iter_0" / "kept").meta.total_episodes == 4
    keys = [(r["task"], r["seed"]) for r in result_rows(output / "iter_0" / "rollouts")]
    assert len(keys) == len(set(keys)) == 4
