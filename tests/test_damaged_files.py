"""Damaged files the project wrote (dataset videos and tables, progress sidecars, run logs): named in one
line with exit status 2, found before any code trusts them, never silently rebuilt."""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from foundation.config_io import dataclass_from_dict
from foundation.errors import InputError
from robot_io.dataset_io import DecordEpisodeVideo, LeRobotEpisodeVideo, open_dataset
from robot_io.dataset_verify import verify_videos
from video_planner.cli import main

REPO = Path(__file__).resolve().parents[1]
VIDEO_1 = "videos/observation.image/chunk-000/file-001.mp4"


@pytest.fixture
def dataset(two_episode_dataset, tmp_path):
    """A private copy of the two-episode dataset, free to damage."""
    return shutil.copytree(two_episode_dataset, tmp_path / "two_episodes")


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_a_sound_dataset_verifies(dataset, capsys):
    assert verify_videos(dataset) == []
    assert main(["summary", "--verify", str(dataset)]) == 0
    assert "verified: every episode's frames decode" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["truncated", "empty", "another episode's"])
def test_summary_verify_names_each_episode_whose_video_is_damaged(dataset, capsys, damage):
    video = dataset / VIDEO_1
    whole = video.read_bytes()
    if damage == "truncated":
        video.write_bytes(whole[: len(whole) // 2])
    elif damage == "empty":
        video.write_bytes(b"")
    else:  # a shorter video of another episode: it decodes, but lacks frames the index names
        short = np.zeros((3, 64, 64, 3), np.uint8)
        from foundation.video_io import write_video

        write_video(dataset / "short.mp4", short)
        shutil.move(dataset / "short.mp4", video)
    broken = verify_videos(dataset)
    assert [b.episode for b in broken] == [1]  # episode 0 is sound and not named
    assert main(["summary", "--verify", str(dataset)]) == 2
    line = _one_error_line(capsys)
    assert "episode 1" in line and VIDEO_1 in line and "episode 0" not in line
    assert main(["summary", str(dataset)]) == 0  # without --verify only the index is read


@pytest.mark.parametrize("reader", [DecordEpisodeVideo, LeRobotEpisodeVideo])
def test_loaders_name_a_damaged_video_on_first_read(dataset, reader):
    video = dataset / VIDEO_1
    video.write_bytes(video.read_bytes()[:1000])
    frames = reader(open_dataset(dataset))
    assert frames.frames(0, np.arange(2)).shape == (2, 64, 64, 3)
    with pytest.raises(InputError, match=r"episode 1 is damaged.*vp summary --verify"):
        frames.frames(1, np.arange(2))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("delete video", f"{VIDEO_1} missing"),
        ("delete table", "data/chunk-000/file-001.parquet missing"),
        ("delete tasks", "meta/tasks.parquet missing"),
        ("truncate table", "Parquet magic bytes not found"),
        ("break info", "corrupt LeRobot dataset"),
    ],
)
def test_a_damaged_dataset_is_named_without_asking_the_hub(dataset, capsys, damage, message):
    if damage == "delete video":
        (dataset / VIDEO_1).unlink()
    elif damage == "delete table":
        (dataset / "data/chunk-000/file-001.parquet").unlink()
    elif damage == "delete tasks":
        (dataset / "meta/tasks.parquet").unlink()
    elif damage == "truncate table":
        table = dataset / "data/chunk-000/file-001.parquet"
        table.write_bytes(table.read_bytes()[:300])
    else:
        (dataset / "meta/info.json").write_text('{"codebase_version": ')
    assert main(["summary", str(dataset)]) == 2
    line = _one_error_line(capsys)
    assert message in line and "huggingface" not in line.lower()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text[:-20], "is damaged (not JSON"),
        (lambda text: json.dumps({"groups": {}}), "recipe: missing"),
        (lambda text: text.replace('"attempts": 1', '"attempts": "one"'), "attempts must be int, got 'one'"),
    ],
)
def test_a_damaged_collection_sidecar_is_reported_never_rebuilt(
    dataset, two_episode_recipe, tmp_path, capsys, edit, message
):
    from robot_io.recipe import CollectionRecipe

    sidecar = dataset / "meta" / "collection_progress.json"
    sidecar.write_text(edit(sidecar.read_text()))
    damaged = sidecar.read_text()
    recipe = tmp_path / "recipe.toml"
    tiny = (REPO / "datasets" / "tiny.toml").read_text()
    recipe.write_text(tiny.replace('"metaworld_tiny"', '"two_episodes"').replace(', "door-open"', ""))
    assert CollectionRecipe.from_toml(recipe) == two_episode_recipe
    assert main(["collect", "--recipe", str(recipe), "--output", str(dataset)]) == 2
    line = _one_error_line(capsys)
    assert str(sidecar) in line and message in line
    assert sidecar.read_text() == damaged  # reported, not rebuilt


def test_a_damaged_run_log_line_is_named_by_number(tmp_path):
    from video_planner.control.closed_loop_eval import read_episode_log

    row = {"task": "door-open", "camera": "corner", "seed": 3, "success": True, "steps": 40, "seconds": {}}
    log = tmp_path / "episodes.jsonl"
    log.write_text(json.dumps(row) + "\n" + json.dumps(row)[:-9] + "\n" + json.dumps(row) + "\n")
    with pytest.raises(InputError, match=r"episodes.jsonl line 2 is damaged"):
        read_episode_log(log)
    log.write_text(json.dumps(row | {"seed": "3"}) + "\n")
    with pytest.raises(InputError, match=r"line 1 is damaged \(seed: '3'\)"):
        read_episode_log(log)
    log.write_text(json.dumps(row) + "\n" + json.dumps(row)[:-9])  # a last line cut short by a crash
    assert read_episode_log(log) == [row]  # is dropped: its episode runs again


@dataclass(frozen=True)
class _Fields:
    steps: int = 1
    rate: float = 0.5
    name: str | None = None
    cameras: tuple[str, ...] = ()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"steps": "10"}, "steps must be int, got '10'"),
        ({"steps": 2.5}, "steps must be int"),
        ({"steps": True}, "steps must be int"),
        ({"rate": "fast"}, "rate must be a number"),
        ({"name": 3}, "name must be str or null"),
        ({"cameras": ["corner", 2]}, "cameras must be a list of str"),
    ],
)
def test_a_config_field_of_the_wrong_type_is_one_line(values, message):
    with pytest.raises(InputError, match=message):
        dataclass_from_dict(_Fields, values, "config.json")


def test_config_fields_of_the_right_type_pass():
    fields = dataclass_from_dict(_Fields, {"steps": 3, "rate": 1, "name": None, "cameras": "corner"}, "config.json")
    assert fields == _Fields(steps=3, rate=1, name=None, cameras=("corner",))
