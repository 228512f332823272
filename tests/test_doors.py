"""Files a user gives and file-system faults: one line and exit status 2, never a traceback."""

import errno

import numpy as np
import pytest
from PIL import Image

from foundation.camera_image import read_image_file
from foundation.errors import InputError, exit_status
from foundation.video_io import write_video


def _png(path, array, mode=None):
    Image.fromarray(array, mode).save(path)
    return path


def test_an_8_bit_image_reads_back_as_rgb(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    np.testing.assert_array_equal(read_image_file(_png(tmp_path / "a.png", rgb)), rgb)
    gray = read_image_file(_png(tmp_path / "g.png", rgb[..., 0]))
    assert gray.shape == (16, 16, 3) and gray.dtype == np.uint8


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated", "16-bit"])
def test_a_file_that_is_not_an_8_bit_image_is_one_line(tmp_path, kind):
    path = tmp_path / "image.png"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("open the door\n")
    elif kind == "truncated":
        _png(path, np.full((64, 64, 3), 7, np.uint8))
        path.write_bytes(path.read_bytes()[:60])
    elif kind == "16-bit":
        _png(path, np.full((8, 8), 40_000, np.uint16))
    expected = {"missing": "does not exist", "16-bit": "not 8 bits per channel"}.get(kind, "cannot read image")
    with pytest.raises(InputError, match=expected) as err:
        read_image_file(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_a_file_system_fault_is_one_line_and_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    assert exit_status(lambda: write_video(blocker / "plan.gif", frames)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: cannot write or read {blocker}: File exists")

    def other_fault():
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(OSError):  # not a fault a user fixes: the traceback stays
        exit_status(other_fault)


@pytest.fixture
def idm_dir(tmp_path):
    import torch

    from inverse_dynamics.config import InverseDynamicsConfig
    from inverse_dynamics.model import InverseDynamics

    torch.manual_seed(0)
    config = InverseDynamicsConfig(image_size=32, chunk_size=4, encoder_channels=(8, 16), hidden_dim=32)
    InverseDynamics(config).save_pretrained(tmp_path / "idm")
    return tmp_path / "idm"


@pytest.mark.parametrize(
    "damage",
    [
        "truncated weights",
        "other weights",
        "integer weights",
        "NaN weights",
        "broken config",
        "config of wrong type",
    ],
)
def test_a_damaged_checkpoint_is_named_in_one_line(idm_dir, tmp_path, damage):
    import json

    from inverse_dynamics.config import InverseDynamicsConfig
    from inverse_dynamics.model import InverseDynamics

    weights, config = idm_dir / "model.safetensors", idm_dir / "config.json"
    if damage == "truncated weights":
        weights.write_bytes(weights.read_bytes()[:200])
        expected = f"weights file {weights} is damaged"
    elif damage == "other weights":
        other = InverseDynamicsConfig(image_size=32, chunk_size=4, encoder_channels=(8, 16), hidden_dim=64)
        InverseDynamics(other).save_pretrained(tmp_path / "other")
        weights.write_bytes((tmp_path / "other" / "model.safetensors").read_bytes())
        expected = f"weights in {weights} are another model's: .* has shape"
    elif damage in ("integer weights", "NaN weights"):
        import torch
        from safetensors.torch import load_file, save_file

        state = load_file(weights)
        name = next(iter(state))
        state[name] = state[name].to(torch.int32) if damage == "integer weights" else state[name] * float("nan")
        save_file(state, weights)
        expected = f"{name} as torch.int32, this model needs torch.float32" if "integer" in damage else "non-finite"
    elif damage == "broken config":
        config.write_text(config.read_text()[:20])
        expected = f"{config} is damaged \\(not JSON"
    else:
        config.write_text(json.dumps([1, 2]))
        expected = "config_version None is not 1"
    with pytest.raises(InputError, match=expected) as err:
        InverseDynamics.from_pretrained(idm_dir)
    assert "\n" not in str(err.value)


def test_a_damaged_planner_directory_is_named_in_one_line(text_encoder, tiny_planner_config, tmp_path):
    import torch

    from video_planner.model.planner import VideoPlanner

    torch.manual_seed(0)
    VideoPlanner(tiny_planner_config, text_encoder=text_encoder).save_pretrained(tmp_path / "p")
    normalization = tmp_path / "p" / "normalization.json"
    normalization.write_text("{")
    with pytest.raises(InputError, match=f"{normalization} is damaged"):
        VideoPlanner.from_pretrained(tmp_path / "p")
    VideoPlanner(tiny_planner_config, text_encoder=text_encoder).save_pretrained(tmp_path / "p")
    autoencoder_weights = next((tmp_path / "p" / "autoencoder").glob("*.safetensors"))
    autoencoder_weights.write_bytes(autoencoder_weights.read_bytes()[:100])
    with pytest.raises(InputError, match="autoencoder in .* is damaged"):
        VideoPlanner.from_pretrained(tmp_path / "p")


def test_a_write_fault_mid_collection_is_one_line_and_leaves_nothing_behind(tmp_path):
    """The first episode's video hits a file-size limit (as a full disk would): one line, exit 2, and no
    dataset or staging copy that a rerun could mistake for collected data."""
    import resource
    import signal
    import subprocess
    import sys

    recipe = tmp_path / "one.toml"
    recipe.write_text('name = "one"\ntasks = ["button-press-topdown"]\ncameras = ["corner"]\nepisodes_per_camera = 1\n')

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit then fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, resource.RLIM_INFINITY))

    output = tmp_path / "out" / "one"
    command = [sys.executable, "-m", "video_planner.cli", "collect", "--recipe", str(recipe), "--output", str(output)]
    done = subprocess.run(command, capture_output=True, text=True, preexec_fn=limit_file_size, timeout=300)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "File too large" in errors[0] and "Traceback" not in done.stderr
    assert list((tmp_path / "out").iterdir()) == []
