"""Generated bad input at the main commands' doors: every run ends with exit 0, or exit 2 and one `error:` line.

Hypothesis draws flags, config and recipe fields and image bytes; examples are derandomized so CI runs the
same cases every time. A command that would start real work (collection, training, evaluation) is given a
place it must refuse (an output that another program wrote, a dataset or planner that does not exist), so
every drawn value is checked at its door and nothing long runs.
"""

import io
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from video_planner.cli import main

FUZZ = settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Flag values: numbers of every size and sign, non-finite ones, and text where a number belongs.
numbers = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "", " ", "0x10", "1_000"]),
    st.text(max_size=6),
)
words = st.text(max_size=12)  # names, instructions, devices: empty, blank, unicode, control characters


def run(argv: list[str], capsys) -> int:
    """`vp argv` in this process; asserts the error rule and returns the exit status."""
    try:
        status = main(argv)
    except SystemExit as stop:  # argparse refusing a flag
        status = stop.code
    err = capsys.readouterr().err
    assert status in (0, 2), f"exit {status} for {argv}"
    event(f"exit {status}")  # the spread of outcomes shows with --hypothesis-show-statistics
    if status == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{argv}: {err!r}"
    return status


def flags(names: list[str]) -> st.SearchStrategy[list[str]]:
    """Some of the flags `names`, each with a drawn number."""
    return (
        st.lists(st.sampled_from(names), unique=True, max_size=4)
        .flatmap(lambda chosen: st.tuples(*[numbers.map(lambda v, f=f: [f, v]) for f in chosen]))
        .map(lambda pairs: [token for pair in pairs for token in pair])
    )


TRAIN_PLANNER_FLAGS = ["--steps", "--batch-size", "--learning-rate", "--ema-decay", "--warmup-steps", "--seed"]
TRAIN_IDM_FLAGS = ["--steps", "--batch-size", "--learning-rate", "--replay-fraction", "--image-size", "--chunk-size"]
EVAL_FLAGS = [
    "--seeds",
    "--first-seed",
    "--max-episode-steps",
    "--replan-every",
    "--sampling-steps",
    "--prior-strength",
    "--device",
]


@FUZZ
@given(extra=flags(TRAIN_PLANNER_FLAGS))
def test_train_planner_flags(tmp_path, capsys, extra):
    argv = ["train-planner", "--dataset", str(tmp_path / "none"), "--output", str(tmp_path / "run"), *extra]
    assert run(argv, capsys) == 2  # every run ends at a door: a bad number, or the missing dataset


@FUZZ
@given(extra=flags(TRAIN_IDM_FLAGS))
def test_train_idm_flags(tmp_path, capsys, extra):
    argv = ["train-idm", "--dataset", str(tmp_path / "none"), "--output", str(tmp_path / "run"), *extra]
    assert run(argv, capsys) == 2


@FUZZ
@given(extra=flags(EVAL_FLAGS), tasks=words, cameras=words)
def test_eval_flags(tmp_path, capsys, extra, tasks, cameras):
    argv = ["eval", "--planner", str(tmp_path / "none"), "--idm", str(tmp_path / "none"), *extra]
    assert run([*argv, "--tasks", tasks, "--cameras", cameras], capsys) == 2


# Config files: each field of the planner config given a drawn JSON value (or left out), plus stray keys.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def _config_fields() -> list[str]:
    import dataclasses

    from video_planner.model.config import PlannerConfig

    return [f.name for f in dataclasses.fields(PlannerConfig)]


@FUZZ
@given(
    changes=st.dictionaries(st.sampled_from([*_config_fields(), "colour"]), json_values, max_size=3),
    raw=st.one_of(st.none(), st.binary(max_size=40)),
)
def test_planner_config_files(tmp_path, capsys, changes, raw):
    from video_planner.model.config import preset

    config = tmp_path / "config.json"
    if raw is None:
        config.write_text(json.dumps(preset("cpu").to_dict() | changes, allow_nan=True))
    else:
        config.write_bytes(raw)
    argv = ["train-planner", "--dataset", str(tmp_path / "none"), "--output", str(tmp_path / "run")]
    assert run([*argv, "--config", str(config)], capsys) == 2


# Recipe files: the tiny recipe with some fields replaced by drawn TOML values.
toml_values = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda x: "nan" if math.isnan(x) else repr(x)),
    st.booleans().map(lambda b: str(b).lower()),
    st.text(max_size=8).map(json.dumps),
    st.lists(st.text(max_size=8), max_size=3).map(json.dumps),
    st.just("[]"),
)
RECIPE_KEYS = [
    "name",
    "tasks",
    "cameras",
    "episodes_per_camera",
    "image_size",
    "seed",
    "max_attempts_per_camera",
    "max_episode_steps",
    "action_noise_std",
    "exploration_prob",
    "keep_failed",
    "volume",
]


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(RECIPE_KEYS), toml_values, max_size=3))
def test_recipe_files(tmp_path, capsys, changes):
    recipe = tmp_path / "recipe.toml"
    lines = {k: v for k, v in (line.split(" = ", 1) for line in TINY_RECIPE.splitlines() if " = " in line)}
    recipe.write_text("".join(f"{k} = {v}\n" for k, v in (lines | changes).items()))
    taken = tmp_path / "taken"  # an output another program wrote: collection must refuse it before running
    taken.mkdir(exist_ok=True)
    (taken / "notes.txt").write_text("mine")
    assert run(["collect", "--recipe", str(recipe), "--output", str(taken)], capsys) == 2


TINY_RECIPE = """name = "fuzz"
tasks = ["button-press-topdown"]
cameras = ["corner"]
episodes_per_camera = 1
image_size = 64
seed = 0
"""


# Images: PNG and JPEG files of odd sizes and modes, cut short at a drawn byte, and bytes that are no image.
@st.composite
def image_files(draw, sound: bool = False) -> bytes:
    """Bytes of an image file; `sound` ones are whole square 8-bit images a planner takes."""
    kind = "png" if sound else draw(st.sampled_from(["png", "jpeg", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    modes = ["L", "RGB", "RGBA", "P"] + ([] if sound else ["I;16", "1"])
    mode = draw(st.sampled_from(modes if kind == "png" else ["L", "RGB"]))
    width = draw(st.integers(8 if sound else 1, 40))
    height = width if sound or draw(st.booleans()) else draw(st.integers(1, 40))
    pixels = np.random.default_rng(draw(st.integers(0, 9))).integers(0, 256, (height, width, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, format=kind.upper())
    data = buffer.getvalue()
    return data[: draw(st.integers(0, len(data)))] if not sound and draw(st.booleans()) else data


@pytest.fixture(scope="module")
def planner_dir(tmp_path_factory, text_encoder, tiny_planner_config):
    import torch

    from video_planner.model.planner import VideoPlanner

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("fuzz") / "planner"
    VideoPlanner(tiny_planner_config, text_encoder=text_encoder).save_pretrained(path)
    return path


# Each input of `vp plan`: (a sound value, a drawn one that may be bad).
PLAN_INPUTS = {
    "image": (image_files(sound=True), image_files()),
    "instruction": (st.sampled_from(["open the door", "press the button"]), words),
    "steps": (st.integers(1, 2).map(str), numbers),
    "guidance": (st.sampled_from(["0", "1.0", "7.5"]), numbers),
    "fps": (st.integers(1, 30).map(str), numbers),
    "seed": (st.integers(0, 2**31).map(str), numbers),
}


@st.composite
def plan_inputs(draw) -> tuple[set[str], dict]:
    """Which inputs are drawn freely (none, one or two), and every input's value."""
    free = draw(st.sets(st.sampled_from(sorted(PLAN_INPUTS)), max_size=2))
    return free, {name: draw(PLAN_INPUTS[name][name in free]) for name in PLAN_INPUTS}


@settings(FUZZ, max_examples=20)
@given(case=plan_inputs())
def test_plan(planner_dir, tmp_path, capsys, case):
    free, values = case
    (tmp_path / "image.png").write_bytes(values["image"])
    output = tmp_path / "plan.gif"
    output.unlink(missing_ok=True)
    argv = ["plan", "--planner", str(planner_dir), "--image", str(tmp_path / "image.png"), "--output", str(output)]
    argv += [
        token for name in ("instruction", "steps", "guidance", "fps", "seed") for token in (f"--{name}", values[name])
    ]
    status = run(argv, capsys)
    if not free:
        assert status == 0  # sound input plans
    assert output.exists() == (status == 0)  # a refused plan writes nothing
