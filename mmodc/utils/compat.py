"""Runtime fixes that make MMEngine 0.10.7 and MMPretrain 1.2.0 work on
torch 2.14 and numpy 2.4 (see STACK.md of the design notes).

Applied once when :mod:`mmodc` is imported, so they also hold inside the
``tools/train.py`` subprocesses that ``mim train`` starts.
"""
import os
import os.path as osp
from typing import Any, Optional

import numpy as np
import torch
import torch.distributed as torch_dist
from mmengine.dist import utils as dist_utils
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader


def _in1d(a, b, assume_unique: bool = False, invert: bool = False):
    """``np.in1d`` as numpy < 2.4 had it (MMPretrain's retrieval metrics)."""
    return np.isin(
        np.asarray(a).ravel(), b, assume_unique=assume_unique, invert=invert)


def load_local_checkpoint(filename: str,
                          map_location: Optional[Any] = None) -> Any:
    """Load a checkpoint file from the local disk, trusting its pickles.

    A local file is the user's own (a Runner checkpoint holds message hub
    history and numpy objects that ``weights_only=True`` refuses), so it is
    loaded with ``weights_only=False``.

    Args:
        filename (str): Path of the checkpoint.
        map_location (Any, optional): Same as :func:`torch.load`.

    Returns:
        Any: The loaded object.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'Checkpoint {filename} not found: check the path given to '
            '`load_from`, `--resume` or `--checkpoint`.')
    return torch.load(filename, map_location=map_location, weights_only=False)


def load_remote_checkpoint(filename: str,
                           map_location: Optional[Any] = None,
                           model_dir: Optional[str] = None,
                           progress: bool = False) -> Any:
    """Download a checkpoint by URL and load it with ``weights_only=True``.

    Nothing fetched from the network is unpickled beyond tensors and plain
    containers, so a downloaded file cannot run code.

    Args:
        filename (str): URL of the checkpoint.
        map_location (Any, optional): Same as :func:`torch.load`.
        model_dir (str, optional): Download directory (torch hub cache by
            default).
        progress (bool): Whether to show a progress bar.

    Returns:
        Any: The loaded object.
    """
    return torch.hub.load_state_dict_from_url(
        filename,
        model_dir=model_dir,
        map_location=map_location,
        progress=progress,
        weights_only=True)


def _init_dist_pytorch(backend: str, init_backend: str = 'torch',
                       **kwargs) -> None:
    """MMEngine's PyTorch launcher setup, also for machines without CUDA.

    MMEngine 0.10.7 calls ``torch.cuda.set_device`` unconditionally; without
    CUDA this initialises the process group with gloo instead.
    """
    if torch.cuda.is_available():
        _mmengine_init_dist_pytorch(backend, init_backend, **kwargs)
        return
    torch_dist.init_process_group(
        backend='gloo',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)


_mmengine_init_dist_pytorch = dist_utils._init_dist_pytorch


def apply() -> None:
    """Install the fixes (idempotent)."""
    if not hasattr(np, 'in1d'):
        np.in1d = _in1d
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'),
        loader=load_remote_checkpoint,
        force=True)
    # other schemes (open-mmlab://, torchvision://) call this by name
    mmengine_checkpoint.load_from_http = load_remote_checkpoint
    dist_utils._init_dist_pytorch = _init_dist_pytorch
