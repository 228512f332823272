"""How the ranks of a pretraining run hold the denoiser, and the whole tensors its checkpoints need.

Under DDP every rank holds the whole denoiser. Under FSDP (`fully_shard`, torch's FSDP2) each UNet block, and
then the rest, is split across the ranks: a rank holds 1/N of every weight, gradient and optimizer moment, and
the blocks are gathered just in time for their forward and backward. Checkpoints hold whole tensors either way
(torch's `get_model_state_dict` / `get_optimizer_state_dict` with full state dicts), so a planner directory is
the same whichever way it was trained, and gathering is a collective: every rank calls it.
"""

import torch
from torch import nn
from torch.distributed.checkpoint.state_dict import StateDictOptions
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor

# whole tensors on rank 0's CPU (the other ranks get empty dicts): what rank 0 writes
GATHER_TO_MAIN = StateDictOptions(full_state_dict=True, cpu_offload=True)
# whole tensors given to every rank (each read the same checkpoint): what a resumed rank loads
FROM_WHOLE = StateDictOptions(full_state_dict=True)


def shard_denoiser(denoiser: nn.Module) -> None:
    """Shards `denoiser` (a `VideoDenoiser`) in place across the process group: each block of its UNet is a
    unit gathered on its own, the remaining parameters (embeddings, text projection, null text) the root's."""
    unet = denoiser.unet
    for block in [*unet.down_blocks, unet.mid_block, *unet.up_blocks]:
        fully_shard(block)
    fully_shard(denoiser)


def whole(tensor: torch.Tensor) -> torch.Tensor:
    """A sharded tensor gathered whole (a collective); a plain tensor as it is."""
    return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor


def like(whole_tensor: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    """`whole_tensor` laid out as `param` is: this rank's shard of it under FSDP, itself on param's device
    otherwise."""
    if isinstance(param, DTensor):
        return distribute_tensor(whole_tensor.to(param.device), param.device_mesh, param.placements)
    return whole_tensor.to(param.device)


def local_elements(module: nn.Module) -> int:
    """How many weight elements this rank holds: all of them under DDP, its shards under FSDP."""
    return sum((p.to_local() if isinstance(p, DTensor) else p).numel() for p in module.parameters())
