"""Saving nested training state (optimizer, EMA, LR schedule) as safetensors + JSON instead of pickle.

Tensors go to `<name>.safetensors` under their path in the nested structure; everything else (numbers,
flags, lists of parameter ids) goes to `<name>.json` with a placeholder where each tensor was.
"""

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from foundation.config_io import read_json
from foundation.errors import InputError
from foundation.hub import load_weights

_TENSOR = "__tensor__"


def _split(value, path: str, tensors: dict):
    if isinstance(value, torch.Tensor):
        tensors[path] = value.detach().contiguous().clone()
        return {_TENSOR: path}
    if isinstance(value, dict):
        return {
            "__dict__": [
                [_split(k, f"{path}/k{i}", tensors), _split(v, f"{path}/{i}", tensors)]
                for i, (k, v) in enumerate(value.items())
            ]
        }
    if isinstance(value, list | tuple):
        return [_split(v, f"{path}/{i}", tensors) for i, v in enumerate(value)]
    return value


def _join(value, tensors: dict):
    if isinstance(value, dict) and _TENSOR in value:
        return tensors[value[_TENSOR]]
    if isinstance(value, dict) and "__dict__" in value:
        return {_join(k, tensors): _join(v, tensors) for k, v in value["__dict__"]}
    if isinstance(value, list):
        return [_join(v, tensors) for v in value]
    return value


def save_state(state, directory: Path, name: str) -> None:
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _split(state, name, tensors)
    save_file(tensors, directory / f"{name}.safetensors")
    (directory / f"{name}.json").write_text(json.dumps(skeleton))


def load_state(directory: Path, name: str):
    """The nested state saved by `save_state`; one line naming the file when either half is damaged."""
    tensors = load_weights(directory / f"{name}.safetensors")
    skeleton_path = directory / f"{name}.json"
    skeleton = read_json(skeleton_path)
    try:
        return _join(skeleton, tensors)
    except (KeyError, TypeError, ValueError) as err:  # a skeleton that does not fit its tensors
        reason = f"{type(err).__name__}: {err}"
        raise InputError(f"{skeleton_path} is damaged ({reason}); restore it or start the run afresh") from None
