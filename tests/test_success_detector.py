import dataclasses

import numpy as np
import pytest
import torch

from foundation.errors import InputError
from foundation.frames import frames_to_unit
from robot_io.frame_bank import FrameBank
from video_planner.sail.success_detector import SuccessDetector, SuccessDetectorConfig
from video_planner.sail.success_train_config import NEGATIVE_KINDS, SuccessTrainConfig
from video_planner.sail.train_success import (
    _pairs,
    detection_scores,
    ranking_auroc,
    top_share,
    train_success_detector,
)

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
    assert scores["auroc"] is None  # both episodes are solved: nothing to rank them against


def test_ranking_auroc_counts_ordered_pairs():
    solved = np.array([True, True, False, False])
    assert ranking_auroc(np.array([0.9, 0.8, 0.1, 0.2]), solved) == 1.0
    assert ranking_auroc(np.array([0.1, 0.2, 0.9, 0.8]), solved) == 0.0
    assert ranking_auroc(np.array([0.5, 0.9, 0.5, 0.1]), solved) == 0.875  # 3 of 4 pairs above, 1 tie
    assert ranking_auroc(np.array([0.3, 0.3, 0.3, 0.3]), solved) == 0.5


def test_save_load_gives_the_same_probabilities(bank, detector, tmp_path, text_encoder):
    detector.save_pretrained(tmp_path / "detector")
    loaded = SuccessDetector.from_pretrained(tmp_path / "detector")
    first, last = _images(bank, bank.starts), _images(bank, bank.starts + bank.lengths - 1)
    instructions = list(bank.instructions)
    np.testing.assert_array_equal(
        loaded.probabilities(first, last, instructions), detector.probabilities(first, last, instructions)
    )
    assert loaded.trained_tasks == ("button-press-topdown",)


def test_an_ensemble_averages_members_trained_from_their_own_seeds(bank, detector, text_encoder, tmp_path):
    config = SuccessTrainConfig(steps=150, batch_size=16, learning_rate=2e-3)
    pair = dataclasses.replace(TINY, ensemble_size=2)
    ensemble = train_success_detector(bank, pair, config, text_encoder=text_encoder, show_progress=False)
    torch.testing.assert_close(ensemble.members[0].state_dict(), detector.members[0].state_dict())  # member 0: seed 0
    assert not torch.equal(ensemble.members[1].head[0].weight, ensemble.members[0].head[0].weight)
    first, last = bank.frames[bank.starts], bank.frames[bank.starts + bank.lengths - 1]  # (B, 3, S, S) each
    text = ensemble.instruction_vectors(list(bank.instructions))
    with torch.no_grad():
        each = [torch.sigmoid(net(frames_to_unit(first), frames_to_unit(last), text)) for net in ensemble.members]
        torch.testing.assert_close(ensemble(first, last, list(bank.instructions)), (each[0] + each[1]) / 2)
    ensemble.save_pretrained(tmp_path / "ensemble")
    loaded = SuccessDetector.from_pretrained(tmp_path / "ensemble")
    assert loaded.config.ensemble_size == 2
    torch.testing.assert_close(loaded.members.state_dict(), ensemble.members.state_dict())


def test_bad_input(bank, text_encoder, tmp_path):
    unsolved = FrameBank(**{**bank.__dict__, "successes": np.zeros_like(bank.successes)})
    with pytest.raises(InputError, match="at least one solved episode"):
        train_success_detector(unsolved, TINY, SuccessTrainConfig(steps=1), text_encoder=text_encoder)
    unlabelled = FrameBank(**{**bank.__dict__, "successes": None})
    with pytest.raises(InputError, match=r"record no outcome \(next.success\)"):
        train_success_detector(unlabelled, TINY, SuccessTrainConfig(steps=1), text_encoder=text_encoder)
    with pytest.raises(InputError, match="bank frames are 32 px; the detector expects 64"):
        train_success_detector(bank, SuccessDetectorConfig(), SuccessTrainConfig(steps=1), text_encoder=text_encoder)
    with pytest.raises(InputError, match="missing config.json, model.safetensors"):
        SuccessDetector.from_pretrained(tmp_path)
    with pytest.raises(InputError, match="ensemble_size must be >= 1, got 0"):
        dataclasses.replace(TINY, ensemble_size=0)
    with pytest.raises(InputError, match="image_size 36 must be divisible by 8"):
        SuccessDetectorConfig(image_size=36, encoder_channels=(8, 16))
    detector = SuccessDetector(TINY, text_encoder)
    with pytest.raises(InputError, match="one first image, one last image and one instruction"):
        detector.probabilities([np.zeros((32, 32, 3), np.uint8)], [], ["press the button"])


def _three_episode_bank() -> FrameBank:
    """Two solved episodes of different tasks and one failed one, 10 frames each."""
    return FrameBank(
        frames=torch.zeros(30, 3, 8, 8, dtype=torch.uint8),
        states=np.zeros((30, 1), np.float32),
        actions=np.zeros((30, 1), np.float32),
        starts=np.array([0, 10, 20]),
        lengths=np.array([10, 10, 10]),
        instructions=["open the door", "close the drawer", "open the door"],
        successes=np.array([True, True, False]),
    )


@pytest.mark.parametrize("kind", NEGATIVE_KINDS)
def test_negatives_are_drawn_only_of_the_configured_kind(kind):
    bank = _three_episode_bank()
    firsts, lasts, instructions, labels = _pairs(
        bank, SuccessTrainConfig(batch_size=64, negatives=(kind,)), np.random.default_rng(0)
    )
    negative = labels.numpy() == 0
    episode = firsts[negative] // 10
    own_instruction = np.array([bank.instructions[e] for e in episode])
    mismatched = own_instruction != np.array(instructions)[negative]
    ending = lasts[negative] == firsts[negative] + 9
    assert negative.sum() == 32
    assert (episode == 2).all() == (kind == "failed")
    assert mismatched.all() == (kind == "other-instruction") and mismatched.any() == (kind == "other-instruction")
    assert ending.all() == (kind != "early") and (lasts[negative] - firsts[negative] < 5).all() == (kind == "early")


def test_unknown_negative_kind_is_refused():
    with pytest.raises(InputError, match="unknown negative kinds \\['late'\\]; choose from early, failed, other-inst"):
        SuccessTrainConfig(negatives=("early", "late"))
    with pytest.raises(InputError, match="unknown negative kinds \\(none given\\)"):
        SuccessTrainConfig(negatives=())


def test_score_success_prints_all_episodes_then_each_task(bank, detector, two_episode_dataset, tmp_path, capsys):
    from video_planner.cli import main

    detector.save_pretrained(tmp_path / "detector")
    args = ["score-success", "--detector", str(tmp_path / "detector"), "--dataset", str(two_episode_dataset)]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = "episodes 2, oracle_successes 2, predicted_successes 2, precision 1, recall 1, accuracy 1"
    assert lines == [f"{two_episode_dataset}: {expected}", f"    button-press-topdown: {expected}"]
    assert main([*args, "--keep-fraction", "0.5"]) == 0  # one of the task's two episodes
    assert "predicted_successes 1, precision 1, recall 0.5" in capsys.readouterr().out
    assert main([*args, "--keep-fraction", "1.5"]) == 2
    assert "error: keep fraction must lie in (0, 1], got 1.5" in capsys.readouterr().err


def test_top_share_keeps_a_share_of_each_task_rounded_up():
    probabilities = np.array([0.1, 0.9, 0.5, 0.2, 0.3])
    tasks = np.array(["door-open", "door-open", "door-open", "reach", "reach"])
    np.testing.assert_array_equal(top_share(probabilities, tasks, 0.5), [False, True, True, False, True])
    np.testing.assert_array_equal(top_share(probabilities, tasks, 0.1), [False, True, False, False, True])
    assert top_share(probabilities, tasks, 1.0).all()
