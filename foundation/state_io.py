"""Saving nested training state (optimizer, EMA, LR schedule) as safetensors + JSON instead of pickle.

Tensors go to `<name>.safetensors` under their path in the nested structure; everything else (numbers,
flags, lists of parameter ids) goes to `<name>.json` with a placeholder where each tensor was.
"""

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

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
    tensors = load_file(directory / f"{name}.safetensors")
    return _join(json.loads((directory / f"{name}.json").read_text()), tensors)
