import numpy as np
import pytest

from robot_io.errors import InputError
from video_planner.frame_bank import FrameBank
from video_planner.sail.success_detector import SuccessDetector, SuccessDetectorConfig
from video_planner.sail.success_train_config import SuccessTrainConfig
from video_planner.sail.train_success import detection_scores, train_success_detector

TINY = SuccessDetectorConfig(image_size=32, encoder_channels=(8, 16), hidden_dim=32)


@pytest.fixture(scope="module")
def bank(two_episode_dataset) -> FrameBank:
    return FrameBank.load(two_episode_dataset, TINY.image_size, show_progress=False)


@pytest.fixture(scope="module")
def detector(bank, text_encoder) -> SuccessDetector:
    config = SuccessTrainConfig(steps=150, batch_size=16, learning_rate=2e-3)
    return train_success_detector(bank, TINY, config, text_encoder=text_encoder, show_progress=False)


def _images(bank, indices):
    return [bank.frames[i].permute(1, 2, 0).numpy() for i in indices]


def test_learned_filter_beats_chance_on_a_labelled_set(bank, detector):
    """Endings of solved episodes against frames before the task was done (20 % and 40 % in)."""
    starts, lengths = bank.starts, bank.lengths
    firsts = [*starts, *starts, *starts]
    lasts = [*(starts + lengths - 1), *(starts + lengths // 5), *(starts + 2 * lengths // 5)]
    labels = np.array([True] * len(starts) + [False] * 2 * len(starts))
    instructions = [bank.instructions[e] for e in range(len(starts))] * 3
    p = detector.probabilities(_images(bank, firsts), _images(bank, lasts), instructions)
    assert ((p >= 0.5) == labels).mean() >= 5 / 6
    scores = detection_scores(detector, bank)
    assert (scores["episodes"], scores["oracle_successes"], scores["recall"]) == (2, 2, 1.0)


def test_save_load_gives_the_same_probabilities(bank, detector, tmp_path, text_encoder):
    detector.save_pretrained(tmp_path / "detector")
    loaded = SuccessDetector.from_pretrained(tmp_path / "detector")
    first, last = _images(bank, bank.starts), _images(bank, bank.starts + bank.lengths - 1)
    instructions = list(bank.instructions)
    np.testing.assert_array_equal(
        loaded.probabilities(first, last, instructions), detector.probabilities(first, last, instructions)
    )
    assert loaded.trained_tasks == ("button-press-topdown",)


def test_bad_input(bank, text_encoder, tmp_path):
    unsolved = FrameBank(**{**bank.__dict__, "successes": np.zeros_like(bank.successes)})
    with pytest.raises(InputError, match="at least one solved episode"):
        train_success_detector(unsolved, TINY, SuccessTrainConfig(steps=1), text_encoder=text_encoder)
    with pytest.raises(InputError, match="bank frames are 32 px; the detector expects 64"):
        train_success_detector(bank, SuccessDetectorConfig(), SuccessTrainConfig(steps=1), text_encoder=text_encoder)
    with pytest.raises(InputError, match="missing config.json, model.safetensors"):
        SuccessDetector.from_pretrained(tmp_path)
    with pytest.raises(InputError, match="image_size 36 must be divisible by 8"):
        SuccessDetectorConfig(image_size=36, encoder_channels=(8, 16))
    detector = SuccessDetector(TINY, text_encoder)
    with pytest.raises(InputError, match="one first image, one last image and one instruction"):
        detector.probabilities([np.zeros((32, 32, 3), np.uint8)], [], ["press the button"])
