"""Success counting and the stop rule, on a scripted environment whose verdicts the test chooses."""

import numpy as np
import pytest

from robot_io.executor import Executor
from robot_io.types import Observation, RobotFeatures, StepResult
from video_planner.control.closed_loop_eval import markdown_table, summarize
from video_planner.control.settings import ControlEvalSettings

FEATURES = RobotFeatures("scripted", 10, ("x",), ("dx",))


class ScriptedEnv:
    """Says "solved" exactly after the steps in `solved_after` (1-based) and truncates after `limit` steps."""

    features = FEATURES

    def __init__(self, solved_after: set[int], limit: int = 10):
        self.solved_after, self.limit, self.steps = solved_after, limit, 0

    def _observation(self) -> Observation:
        return Observation(None, np.array([self.steps], np.float32), "do it")

    def reset(self, seed=None, *, render=True) -> Observation:
        self.steps = 0
        return self._observation()

    def step(self, action, *, render=True) -> StepResult:
        self.steps += 1
        return StepResult(self._observation(), self.steps in self.solved_after, self.steps >= self.limit)

    def render(self) -> np.ndarray:
        return np.zeros((8, 8, 3), np.uint8)

    def close(self) -> None:
        pass


class StillPolicy:
    def reset(self, instruction, seed=None):
        pass

    def needs_image(self) -> bool:
        return False

    def act(self, observation) -> np.ndarray:
        return np.zeros(1, np.float32)


@pytest.mark.parametrize(
    ("solved_after", "stop", "success", "steps"),
    [
        ({4}, True, True, 4),  # AVDC's rule: the episode ends at its first success
        ({4}, False, True, 10),  # label-free: it runs on, and a success that reverts still counts
        ({4, 5, 6, 7, 8, 9, 10}, False, True, 10),
        (set(), True, False, 10),  # never solved: the step limit ends it, whatever the rule
        (set(), False, False, 10),
        ({10}, True, True, 10),  # solved on the last step
    ],
)
def test_success_is_counted_once_solved_and_the_rule_decides_the_length(solved_after, stop, success, steps):
    rollout = Executor(ScriptedEnv(solved_after), StillPolicy(), stop_at_success=stop).run(seed=0)
    assert rollout.success == success and rollout.steps == steps
    assert list(np.flatnonzero(rollout.successes) + 1) == sorted(s for s in solved_after if s <= steps)


def test_the_summary_counts_mixed_outcomes_per_task_and_camera():
    settings = ControlEvalSettings(tasks=("reach", "door-open"), cameras=("corner", "corner2"), seeds=2)
    outcomes = {  # (task, camera) -> successes of its two episodes
        ("reach", "corner"): (True, False),
        ("reach", "corner2"): (True, True),
        ("door-open", "corner"): (False, False),
        ("door-open", "corner2"): (False, True),
    }
    rows = [
        {"task": t, "camera": c, "seed": i, "success": s, "steps": 30 if s else 500, "seconds": {"render": 1.0}}
        for (t, c), successes in outcomes.items()
        for i, s in enumerate(successes)
    ]
    summary = summarize(rows, settings, idm_tasks=("reach",))
    assert summary["tasks"]["reach"]["success"] == 0.75 and summary["tasks"]["door-open"]["success"] == 0.25
    assert summary["tasks"]["reach"]["per_camera"] == {"corner": 0.5, "corner2": 1.0}
    assert summary["tasks"]["door-open"]["per_camera"] == {"corner": 0.0, "corner2": 0.5}
    assert summary["mean_success"] == 0.5 and summary["episodes"] == 8 and summary["mean_steps_solved"] == 30
    assert summary["tasks"]["reach"]["stderr"] == pytest.approx((0.75 * 0.25 / 4) ** 0.5)  # binomial, 4 episodes
    assert summary["mean_stderr"] == pytest.approx((2 * 0.75 * 0.25 / 4) ** 0.5 / 2)  # two tasks, equal weight
    table = markdown_table(summary)
    assert "| reach | 75.0 ± 21.7 % | 50 % | 100 % | 4 |" in table and "**50.0 ± 15.3 %**" in table
    assert summary["tasks"]["reach"]["idm_trained_on_task"] and not summary["tasks"]["door-open"]["idm_trained_on_task"]


def test_label_free_sail_rollouts_run_to_the_step_limit():
    from video_planner.sail.settings import SailSettings

    common = dict(planner="p", idm="i", tasks=("reach",), cameras=("corner",), rollouts=2, max_episode_steps=50)
    assert not SailSettings(**common, filter="none").rollout_settings(0).stop_at_success
    assert SailSettings(**common, filter="oracle").rollout_settings(0).stop_at_success
    assert SailSettings(**common, filter="none").eval_settings().stop_at_success  # scoring keeps AVDC's rule
