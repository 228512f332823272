"""`make demo` in its quick form: a tiny planner and IDM plan and act on a MetaWorld task for a few steps, and
the report, the GIF of plan beside execution, and a row per task exist."""

import demo
from PIL import Image


def test_the_demo_reports_each_task_with_its_plan_beside_the_execution(tiny_models, tmp_path, capsys):
    models = ["--planner", str(tiny_models / "planner"), "--idm", str(tiny_models / "idm")]
    argv = [*models, "--tasks", "door-open,button-press", "--max-steps", "10", "--output", str(tmp_path / "d")]
    assert demo.main(argv) == 0
    report = (tmp_path / "d" / "report.md").read_text()
    for task, instruction in (("door-open", "open the door"), ("button-press", "press the button")):
        row = next(line for line in report.splitlines() if line.startswith(f"| {task} |"))
        assert f'"{instruction}"' in row and "| failed | 10 |" in row  # untrained models: the full 10 steps
        gif = Image.open(tmp_path / "d" / f"{task}.gif")
        assert gif.n_frames > 1 and gif.size == (2 * 32 * 3, 32 * 3)  # camera | planned frame, upscaled 3×
        assert f"![{task}]({task}.gif)" in report
    printed = capsys.readouterr().out
    assert f"report: {tmp_path / 'd' / 'report.md'}" in printed and "| door-open |" in printed


def test_an_unknown_task_stops_the_demo_in_one_line_and_writes_nothing(tiny_models, tmp_path, capsys):
    models = ["--planner", str(tiny_models / "planner"), "--idm", str(tiny_models / "idm")]
    assert demo.main([*models, "--tasks", "door-opn", "--output", str(tmp_path / "d")]) == 2
    error = capsys.readouterr().err
    assert "door-opn" in error and len(error.strip().splitlines()) == 1
    assert not (tmp_path / "d").exists()
