import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from robot_io.collect import collect  # noqa: E402
from robot_io.recipe import CollectionRecipe  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


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
