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
