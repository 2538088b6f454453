"""The ODC memories of a model: one for ODC, one per member for CODC."""
from typing import Dict

from torch import nn


def memory_owners(model: nn.Module) -> Dict[str, nn.Module]:
    """The modules that hold an ODC memory as ``memory_bank``, by name.

    Args:
        model (nn.Module): An unwrapped model.

    Returns:
        dict[str, nn.Module]: ``{'': model}`` for :class:`ODC`;
        ``{'clustering': member, 'rotation': member}`` for a :class:`CODC`
        (the last part of each member's module path); empty for a model
        without a memory.
    """
    return {
        name.rsplit('.', 1)[-1]: module
        for name, module in model.named_modules()
        if hasattr(getattr(module, 'memory_bank', None), 'is_sharded')
    }


def model_memories(model: nn.Module) -> Dict[str, nn.Module]:
    """The model's ODC memories, named as in :func:`memory_owners`.

    Args:
        model (nn.Module): An unwrapped model.

    Returns:
        dict[str, nn.Module]: Memory name -> memory.
    """
    return {name: owner.memory_bank
            for name, owner in memory_owners(model).items()}
