"""The ODC memories of a model by name: one for ODC, one per member for
CODC."""
from typing import Dict, List

from torch import nn

from .memory_shards import memories


def model_memories(model: nn.Module) -> Dict[str, nn.Module]:
    """The model's ODC memories, named by the module that holds them.

    Args:
        model (nn.Module): An unwrapped model.

    Returns:
        dict[str, nn.Module]: ``{'': memory}`` for :class:`ODC`;
        ``{'clustering': ..., 'rotation': ...}`` for a :class:`CODC` (the
        last part of each member's module path), in module order; empty
        for a model without a memory.
    """
    return {
        prefix.rstrip('.').rpartition('.')[0].rpartition('.')[2]: memory
        for prefix, memory in memories(model).items()
    }


def memory_buffer_names(model: nn.Module) -> List[str]:
    """The state-dict names of every memory buffer of a model: every rank
    updates its memories identically, so DDP must not broadcast them (the
    banks are 1.3 GB on ImageNet) at every forward.

    Args:
        model (nn.Module): An unwrapped model.

    Returns:
        list[str]: e.g. ``['memory_bank.feature_bank', ...]``.
    """
    return [
        prefix + name for prefix, memory in memories(model).items()
        for name, _ in memory.named_buffers()
    ]
