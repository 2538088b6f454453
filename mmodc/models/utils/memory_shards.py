"""Checkpoints of ODC memories sharded over the ranks.

A :class:`~mmodc.models.ShardedODCMemory` is never gathered on one rank, so
its banks cannot go into the checkpoint that rank 0 writes. Instead every
rank writes its rows to ``<checkpoint>.memory/shard-<r>-of-<W>.pth`` before
rank 0 writes the checkpoint (:class:`~mmodc.engine.SafeCheckpointHook`),
and the checkpoint's ``meta['memory_shards']`` records the layout: the
world size, the iteration, and the state-dict prefix, number of samples and
feature dimension of each sharded memory. The replicated statistics
(centroids, sums, counts) stay in the checkpoint.

Any reader rebuilds the rows it needs from the shard files, memory-mapped,
so a rank reads only what it keeps: a resume with another number of
processes re-shards (rank ``r`` of ``W'`` takes samples ``r, r + W', ...``
from whichever old shards hold them), a replicated memory takes every row,
and the tools (:func:`with_whole_memory`) put the whole banks back into the
state dict.
"""
import os
import os.path as osp
import shutil
from typing import Dict, Optional

import torch
from torch import nn

from mmodc.utils.atomic_files import replace_atomically

#: ``meta`` key of a checkpoint whose memory banks are in shard files.
LAYOUT_KEY = 'memory_shards'
#: The per-sample banks that are sharded (the rest is replicated).
BANKS = ('feature_bank', 'label_bank')


def shard_folder(checkpoint_path: str) -> str:
    """The folder of a checkpoint's memory shards.

    Args:
        checkpoint_path (str): The checkpoint file.

    Returns:
        str: ``<checkpoint>.memory``.
    """
    return f'{checkpoint_path}.memory'


def shard_file(folder: str, rank: int, world_size: int) -> str:
    """The shard file of one rank.

    Args:
        folder (str): The shard folder.
        rank (int): The rank that wrote it.
        world_size (int): The number of shards.

    Returns:
        str: ``<folder>/shard-<rank>-of-<world_size>.pth``.
    """
    return osp.join(folder, f'shard-{rank}-of-{world_size}.pth')


def memories(model: nn.Module) -> Dict[str, nn.Module]:
    """The ODC memories of a model, by state-dict prefix.

    Args:
        model (nn.Module): An unwrapped model.

    Returns:
        dict[str, nn.Module]: e.g. ``{'memory_bank.': memory}``.
    """
    return {f'{name}.': module for name, module in model.named_modules()
            if hasattr(module, 'is_sharded')}


def save_memory_shards(model: nn.Module, checkpoint_path: str,
                       iteration: int) -> Optional[dict]:
    """Write this rank's rows of the model's sharded memories next to a
    checkpoint (a temporary file renamed into place). Every rank calls it.

    Args:
        model (nn.Module): The unwrapped model.
        checkpoint_path (str): The checkpoint about to be saved.
        iteration (int): The iteration it is saved at.

    Returns:
        dict, optional: The layout for the checkpoint's
        ``meta['memory_shards']``; None when no memory is sharded.
    """
    sharded = {prefix: memory for prefix, memory in memories(model).items()
               if memory.is_sharded}
    if not sharded:
        return None
    rank, world_size = next(
        (memory.rank, memory.world_size) for memory in sharded.values())
    folder = shard_folder(checkpoint_path)
    os.makedirs(folder, exist_ok=True)
    path = shard_file(folder, rank, world_size)
    banks = {prefix + name: getattr(memory, name).cpu()
             for prefix, memory in sharded.items() for name in BANKS}
    torch.save(dict(banks, iteration=iteration), f'{path}.tmp')
    replace_atomically(f'{path}.tmp', path)
    return dict(
        layout='strided', world_size=world_size, iteration=iteration,
        folder=osp.basename(folder), saved_at=osp.abspath(folder),
        memories={prefix: dict(length=memory.length, feat_dim=memory.feat_dim)
                  for prefix, memory in sharded.items()})


def remove_other_shards(checkpoint_path: str, world_size: int) -> None:
    """Remove shard files of another world size from a checkpoint's shard
    folder (left by an earlier run that saved a checkpoint of the same
    name), so that the folder holds one set.

    Args:
        checkpoint_path (str): The checkpoint file.
        world_size (int): The world size of the shards to keep.
    """
    folder = shard_folder(checkpoint_path)
    for name in os.listdir(folder):
        if not name.endswith(f'-of-{world_size}.pth'):
            os.remove(osp.join(folder, name))


def remove_memory_shards(checkpoint_path: str) -> None:
    """Remove a checkpoint's shard folder, if it has one.

    Args:
        checkpoint_path (str): The checkpoint file.
    """
    folder = shard_folder(checkpoint_path)
    if osp.isdir(folder):
        shutil.rmtree(folder)


def without_sharded_banks(checkpoint: dict) -> None:
    """Drop from a checkpoint's state dict the banks its shard files hold
    (rank 0's rows only).

    Args:
        checkpoint (dict): A checkpoint being saved, changed in place.
    """
    layout = checkpoint.get('meta', {}).get(LAYOUT_KEY)
    for prefix in (layout or {}).get('memories', {}):
        for name in BANKS:
            checkpoint['state_dict'].pop(prefix + name, None)


def locate_shards(layout: dict, checkpoint_path: Optional[str]) -> str:
    """The shard folder of a checkpoint: beside the checkpoint file (also
    after the run's folder moved), else where it was saved.

    Args:
        layout (dict): The checkpoint's ``meta['memory_shards']``.
        checkpoint_path (str, optional): Where the checkpoint was read.

    Returns:
        str: The folder.

    Raises:
        FileNotFoundError: Neither exists; names both.
    """
    candidates = [layout['saved_at']]
    if checkpoint_path:
        candidates.insert(0, osp.join(osp.dirname(checkpoint_path),
                                      layout['folder']))
    for folder in candidates:
        if osp.isdir(folder):
            return folder
    raise FileNotFoundError(
        f'the checkpoint {checkpoint_path or ""} keeps its ODC memory in '
        f'{layout["world_size"]} shard files, but their folder is missing '
        f'(looked in {" and ".join(candidates)}): copy the '
        f'{layout["folder"]} folder next to the checkpoint.')


def _read_shard(path: str, layout: dict, shard: int,
                prefix: str) -> Dict[str, torch.Tensor]:
    """One shard file, memory-mapped, checked against the layout."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'memory shard {path} is missing: the checkpoint was saved by '
            f'{layout["world_size"]} processes and needs all their shard '
            'files; copy them back or resume from an older checkpoint.')
    state = torch.load(path, map_location='cpu', mmap=True,
                       weights_only=True)
    length = layout['memories'][prefix]['length']
    rows = len(range(shard, length, layout['world_size']))
    labels = state.get(prefix + 'label_bank')
    if (state.get('iteration') != layout['iteration'] or labels is None
            or labels.shape[0] != rows):
        raise ValueError(
            f'memory shard {path} does not belong to its checkpoint (it '
            f'holds {None if labels is None else labels.shape[0]} rows of '
            f'{prefix}label_bank at iteration {state.get("iteration")}, the '
            f'checkpoint needs {rows} rows at iteration '
            f'{layout["iteration"]}): the shard folder was overwritten or '
            'mixed up; resume from another checkpoint.')
    return state


def read_memory_rows(layout: dict, checkpoint_path: Optional[str],
                     prefix: str,
                     indices: torch.Tensor) -> Dict[str, torch.Tensor]:
    """The bank rows of samples ``indices`` from a checkpoint's shards.

    Sample ``i`` is row ``i // W`` of shard ``i % W``. Each shard file is
    memory-mapped, so only the rows asked for are read.

    Args:
        layout (dict): The checkpoint's ``meta['memory_shards']``.
        checkpoint_path (str, optional): Where the checkpoint was read
            (its shard folder is looked for beside it).
        prefix (str): The memory's state-dict prefix.
        indices (torch.Tensor): Dataset indices, in the order wanted.

    Returns:
        dict[str, torch.Tensor]: ``feature_bank`` and ``label_bank`` rows.
    """
    folder = locate_shards(layout, checkpoint_path)
    world_size = layout['world_size']
    indices = indices.cpu()
    rows = {}
    for shard in range(world_size):
        state = _read_shard(shard_file(folder, shard, world_size), layout,
                            shard, prefix)
        mine = indices % world_size == shard
        for name in BANKS:
            bank = state[prefix + name]
            if name not in rows:
                rows[name] = bank.new_empty((indices.shape[0], ) +
                                            bank.shape[1:])
            rows[name][mine] = bank[indices[mine] // world_size]
    return rows


def place_memory_rows(checkpoint: dict, checkpoint_path: Optional[str],
                      prefix: str, indices: torch.Tensor) -> None:
    """Put the bank rows of samples ``indices`` into a checkpoint's state
    dict, from its shard files or from its whole banks, so that a memory
    holding those samples loads it (re-sharding).

    Args:
        checkpoint (dict): The loaded checkpoint, changed in place.
        checkpoint_path (str, optional): Where it was read.
        prefix (str): The memory's prefix in the state dict.
        indices (torch.Tensor): The samples the loading memory holds.
    """
    state_dict = checkpoint['state_dict']
    layout = (checkpoint.get('meta') or {}).get(LAYOUT_KEY)
    if layout is not None and prefix in layout['memories']:
        rows = read_memory_rows(layout, checkpoint_path, prefix, indices)
    elif prefix + BANKS[0] in state_dict:
        rows = {name: state_dict[prefix + name][indices.cpu()]
                for name in BANKS}
    else:
        return
    state_dict.update((prefix + name, rows[name]) for name in BANKS)


def load_memory_rows(model: nn.Module, checkpoint: dict,
                     checkpoint_path: Optional[str]) -> None:
    """Give each memory of a model the rows it holds, in the state dict of
    a checkpoint about to be loaded into it: from the shard files of a
    sharded checkpoint, or a sharded memory's share of whole banks.

    Args:
        model (nn.Module): The unwrapped model.
        checkpoint (dict): The loaded checkpoint, changed in place.
        checkpoint_path (str, optional): Where it was read.
    """
    layout = (checkpoint.get('meta') or {}).get(LAYOUT_KEY) or {}
    for prefix, memory in memories(model).items():
        if memory.is_sharded or prefix in layout.get('memories', {}):
            place_memory_rows(checkpoint, checkpoint_path, prefix,
                              memory.local_indices())


def with_whole_memory(checkpoint: dict,
                      checkpoint_path: Optional[str]) -> dict:
    """A checkpoint with its whole memory banks in the state dict, read from
    its shard files if it has them (for tools that read checkpoints in one
    process).

    Args:
        checkpoint (dict): A loaded checkpoint.
        checkpoint_path (str, optional): Where it was read.

    Returns:
        dict: The checkpoint (changed in place), without the shard layout.
    """
    layout = (checkpoint.get('meta') or {}).get(LAYOUT_KEY)
    if layout is None:
        return checkpoint
    for prefix, sizes in layout['memories'].items():
        place_memory_rows(checkpoint, checkpoint_path, prefix,
                          torch.arange(sizes['length']))
    del checkpoint['meta'][LAYOUT_KEY]
    return checkpoint
