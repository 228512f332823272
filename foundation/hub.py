"""Model directories that may live on the Hugging Face Hub (resolving a directory or repo id, uploading),
and a digest that identifies a model's weights."""

import hashlib
import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from foundation.config_io import read_json
from foundation.errors import InputError

HUB_REPO_ID = re.compile(r"[\w][\w.-]*/[\w][\w.-]*")  # "user/name"; "/abs" and "./rel" are local paths
DEFAULT_MODEL = "default"  # the short name of a model shipped with the package (`--planner default`)
TRAINING_DATA_FILE = "training_data.json"  # the tasks a model was trained on, to flag zero-shot use


def require_files(directory: Path, names: tuple[str, ...], what: str) -> None:
    """One error line naming every file a model directory lacks."""
    missing = [name for name in names if not (directory / name).is_file()]
    if missing:
        raise InputError(f"{what} checkpoint {directory} is missing {', '.join(missing)}; point at a complete one")


def read_trained_tasks(directory: Path) -> tuple[str, ...]:
    """The tasks recorded in a model directory; () for one saved without the record."""
    path = directory / TRAINING_DATA_FILE
    return tuple(read_json(path, {"tasks": list})["tasks"]) if path.is_file() else ()


def write_trained_tasks(directory: Path, tasks: tuple[str, ...]) -> None:
    (directory / TRAINING_DATA_FILE).write_text(json.dumps({"tasks": list(tasks)}, indent=2))


def resolve_model_directory(
    path_or_repo_id: str | Path, revision: str | None, what: str, shipped: Path | None = None
) -> Path:
    """A local directory as is, `default` the model shipped with the package in `shipped`, or a Hub repo id
    ("user/name") downloaded into the Hub cache."""
    if str(path_or_repo_id) == DEFAULT_MODEL and shipped is not None:
        if not (shipped / "config.json").is_file():
            raise InputError(f"no default {what} is installed at {shipped}; reinstall the package or name a directory")
        return shipped
    path = Path(path_or_repo_id)
    if path.is_dir():
        return path
    if path.exists() or not HUB_REPO_ID.fullmatch(str(path_or_repo_id)):
        raise InputError(f"no {what} checkpoint directory at {path}; pass a directory or a Hub repo id (user/name)")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(str(path_or_repo_id), revision=revision))
    except (OSError, ValueError) as err:  # the Hub's HTTP, offline and not-found errors; a malformed repo id
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"cannot download {what} {path_or_repo_id!r} from the Hub: {reason}") from None


def push_model_directory(
    save_pretrained: Callable[[Path], None], repo_id: str, what: str, *, private=None, token=None, api=None
) -> str:
    """Writes a model directory with `save_pretrained` and uploads it to a Hub model repo.
    `api` defaults to `huggingface_hub.HfApi()`; tests pass a stand-in backed by a local folder."""
    from huggingface_hub import HfApi

    api = api or HfApi(token=token)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        save_pretrained(folder)
        api.create_repo(repo_id, private=private, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message=f"Upload {what}")
    return repo_id


def weights_digest(module: torch.nn.Module) -> str:
    """A short SHA-1 of a model's weights and buffers: two evaluations with the same digest ran the same model."""
    digest = hashlib.sha1()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file of a model directory, refused in one line when it is truncated or not safetensors."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path)
    except (SafetensorError, OSError) as err:  # a damaged header or body; an unreadable file
        raise InputError(
            f"weights file {path} is damaged ({str(err).splitlines()[0]}); restore or retrain it"
        ) from None


def load_module_weights(module: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """`module.load_state_dict(state)`, refused in one line naming `path` when the weights belong to another
    model (missing or unexpected names, other shapes, integers for floats) or hold NaN or inf."""
    ours = module.state_dict()
    missing, unexpected = sorted(ours.keys() - state.keys()), sorted(state.keys() - ours.keys())
    if missing or unexpected:
        names = ", ".join(missing[:2] + unexpected[:2])
        raise InputError(
            f"weights in {path} are another model's ({len(missing)} missing, {len(unexpected)} unexpected: "
            f"{names}); point at this model's checkpoint"
        )
    for name, tensor in state.items():
        if tensor.shape != ours[name].shape:
            raise InputError(
                f"weights in {path} are another model's: {name} has shape {tuple(tensor.shape)}, this model "
                f"needs {tuple(ours[name].shape)}"
            )
        # floating weights load from any precision (the shipped default models store fp16), cast to the model's
        if tensor.dtype != ours[name].dtype and not (tensor.is_floating_point() and ours[name].is_floating_point()):
            raise InputError(
                f"weights in {path} hold {name} as {tensor.dtype}, this model needs {ours[name].dtype}; "
                "point at this model's checkpoint"
            )
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise InputError(
                f"weights in {path} hold non-finite values in {name} (a diverged run?); restore an earlier checkpoint"
            )
    module.load_state_dict(state)
