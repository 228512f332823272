import dataclasses

import numpy as np
import pytest
import torch

from foundation.errors import InputError
from inverse_dynamics.config import InverseDynamicsConfig
from inverse_dynamics.evaluate import evaluate_idm
from inverse_dynamics.model import InverseDynamics
from inverse_dynamics.samples import load_chunk_samples
from inverse_dynamics.train import InverseDynamicsTrainer
from inverse_dynamics.train_config import IDMTrainConfig

TINY = InverseDynamicsConfig(image_size=32, chunk_size=4, encoder_channels=(16, 32), hidden_dim=128)


def train_config(dataset, **overrides) -> IDMTrainConfig:
    values = dict(datasets=(str(dataset),), steps=300, batch_size=32, learning_rate=1e-3, warmup_steps=10)
    return IDMTrainConfig(**(values | overrides))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, two_episode_dataset) -> InverseDynamics:
    output = tmp_path_factory.mktemp("idm")
    checkpoint = InverseDynamicsTrainer(TINY, train_config(two_episode_dataset), output, show_progress=False).run()
    return InverseDynamics.from_pretrained(checkpoint)


def test_action_error_falls_below_half_of_the_mean_action_baseline(trained, two_episode_dataset):
    result = evaluate_idm(trained, [two_episode_dataset])
    assert result["all"]["idm"] < 0.5 * result["all"]["mean action"]
    assert set(result["tasks"]) == {"button-press-topdown"}


def test_chunks_pair_frame_t_with_frame_t_plus_k_and_the_k_actions_between(two_episode_dataset):
    samples = load_chunk_samples([two_episode_dataset], TINY, show_progress=False)
    bank = samples.bank
    assert len(samples) == sum(int(n) - 4 for n in bank.lengths)
    last_of_first_episode = bank.lengths[0] - 5  # the last t with t + 4 inside episode 0
    batch = samples.batch(np.array([last_of_first_episode]))
    assert torch.equal(batch["targets"][0], bank.frames[bank.lengths[0] - 1])
    np.testing.assert_array_equal(batch["actions"][0].numpy(), bank.actions[last_of_first_episode:][:4])


def test_save_load_and_push_to_hub_give_identical_actions(trained, tmp_path, folder_hub):
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    target = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    state = np.array([0.0, 0.6, 0.2, 1.0], np.float32)
    actions = trained.actions(image, state, target)
    assert actions.shape == (4, 4) and np.all(np.abs(actions) <= 1.0)
    trained.save_pretrained(tmp_path / "idm")
    loaded = InverseDynamics.from_pretrained(tmp_path / "idm")
    np.testing.assert_array_equal(loaded.actions(image, state, target), actions)
    trained.push_to_hub("user/tiny-idm", api=folder_hub)
    pushed = InverseDynamics.from_pretrained(folder_hub.root / "user" / "tiny-idm")
    np.testing.assert_array_equal(pushed.actions(image, state, target), actions)


def test_resuming_repeats_the_uninterrupted_losses(tmp_path, two_episode_dataset):
    six_steps = train_config(two_episode_dataset, steps=6)
    straight = InverseDynamicsTrainer(TINY, six_steps, tmp_path / "a", show_progress=False)
    straight.run()
    first = train_config(two_episode_dataset, steps=3, checkpoint_every=3)
    InverseDynamicsTrainer(TINY, first, tmp_path / "b", show_progress=False).run()
    longer = dataclasses.replace(first, steps=6)
    resumed = InverseDynamicsTrainer(TINY, longer, tmp_path / "b", resume=True, show_progress=False)
    resumed.run()
    assert resumed.losses == straight.losses
    with pytest.raises(InputError, match="training config learning_rate changed"):
        InverseDynamicsTrainer(TINY, dataclasses.replace(longer, learning_rate=1.0), tmp_path / "b", resume=True)


def test_bad_inputs_get_one_clear_error(trained, tmp_path):
    image = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(InputError, match=r"state must have shape \(4,\)"):
        trained.actions(image, np.zeros(3, np.float32), image)
    with pytest.raises(InputError, match="image must be uint8 RGB"):
        trained.actions(image.astype(np.float32), np.zeros(4, np.float32), image)
    trained.save_pretrained(tmp_path / "idm")
    (tmp_path / "idm" / "model.safetensors").unlink()
    with pytest.raises(InputError, match="is missing model.safetensors"):
        InverseDynamics.from_pretrained(tmp_path / "idm")
    with pytest.raises(InputError, match="invalid chunk_size"):
        InverseDynamicsConfig(chunk_size=0)
    with pytest.raises(InputError, match="at least one --dataset"):
        IDMTrainConfig(datasets=())
