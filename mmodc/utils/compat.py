"""Runtime fixes that make MMEngine 0.10.7 and MMPretrain 1.2.0 work on
torch 2.14 and numpy 2.4 (see STACK.md of the design notes).

Applied once when :mod:`mmodc` is imported, so they also hold inside the
``tools/train.py`` subprocesses that ``mim train`` starts.
"""
import logging
import os
import os.path as osp
from typing import Any, Optional

import cv2
import mmcv
import numpy as np
import torch
import torch.distributed as torch_dist
from mmcv.image import photometric
from mmengine.dist import utils as dist_utils
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader
from PIL import Image

from .download import HASH_IN_FILE_NAME, download_checkpoint, url_file_name


def _in1d(a, b, assume_unique: bool = False, invert: bool = False):
    """``np.in1d`` as numpy < 2.4 had it (MMPretrain's retrieval metrics)."""
    return np.isin(
        np.asarray(a).ravel(), b, assume_unique=assume_unique, invert=invert)


def adjust_hue(img: np.ndarray,
               hue_factor: float,
               backend: Optional[str] = None) -> np.ndarray:
    """``mmcv.adjust_hue`` that also works on numpy 2.

    mmcv 2.2 adds ``np.uint8(hue_factor * 255)`` to the hue channel, which
    numpy 2 refuses for a negative factor (OverflowError), so
    ``ColorJitter(hue=...)`` crashed on every other image. The hue channel is
    shifted cyclically by the same amount here.

    Args:
        img (np.ndarray): BGR image.
        hue_factor (float): Shift in ``[-0.5, 0.5]`` of a full turn.
        backend (str, optional): 'cv2' or 'pillow' (mmcv's default if None).

    Returns:
        np.ndarray: The image with shifted hue.
    """
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    shift = np.uint8(int(hue_factor * 255) % 256)
    if (backend or photometric.imread_backend) == 'pillow':
        hsv = np.array(Image.fromarray(img[..., ::-1], 'RGB').convert('HSV'))
        hsv[..., 0] += shift
        rgb = Image.fromarray(hsv, 'HSV').convert('RGB')
        return np.array(rgb, dtype=img.dtype)[..., ::-1]
    hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    hsv[..., 0] += shift
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL).astype(img.dtype)


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
    containers, so a downloaded file cannot run code. A file whose name
    carries its sha256 prefix (OpenMMLab's and torch hub's releases, the
    model zoo's) is fetched by :func:`download_checkpoint`, so it is
    verified, as through :mod:`mmodc.apis`; other names are fetched by
    torch hub unverified.

    Args:
        filename (str): URL of the checkpoint.
        map_location (Any, optional): Same as :func:`torch.load`.
        model_dir (str, optional): Download directory (torch hub cache by
            default).
        progress (bool): Whether to show a progress bar.

    Returns:
        Any: The loaded object.
    """
    if not HASH_IN_FILE_NAME.search(url_file_name(filename)):
        return torch.hub.load_state_dict_from_url(
            filename,
            model_dir=model_dir,
            map_location=map_location,
            progress=progress,
            weights_only=True)
    path = download_checkpoint(filename, model_dir, progress=progress)
    return torch.load(path, map_location=map_location, weights_only=True)


def _init_dist_pytorch(backend: str, init_backend: str = 'torch',
                       **kwargs) -> None:
    """MMEngine's PyTorch launcher setup, also for machines without CUDA.

    MMEngine 0.10.7 calls ``torch.cuda.set_device`` unconditionally; without
    CUDA this initialises the process group with gloo instead.
    """
    if torch.cuda.is_available():
        _mmengine_init_dist_pytorch(backend, init_backend, **kwargs)
        return
    if backend != 'gloo':
        print_log(
            f'No CUDA device: torch.distributed uses the gloo backend '
            f'instead of {backend}.',
            logger='current',
            level=logging.WARNING)
    torch_dist.init_process_group(
        backend='gloo',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)


_mmengine_init_dist_pytorch = dist_utils._init_dist_pytorch


def _ddp_init(self, module: torch.nn.Module,
              detect_anomalous_params: bool = False, **kwargs) -> None:
    """MMEngine's DDP wrapper, also for a model on the CPU.

    MMEngine's Runner passes ``device_ids=[LOCAL_RANK]``, which
    DistributedDataParallel refuses for a CPU model; CPU models get
    ``device_ids=None``.
    """
    on_cpu = all(param.device.type == 'cpu' for param in module.parameters())
    if on_cpu:
        kwargs['device_ids'] = None
    _mmengine_ddp_init(self, module, detect_anomalous_params, **kwargs)


_mmengine_ddp_init = MMDistributedDataParallel.__init__


def apply() -> None:
    """Install the fixes (idempotent)."""
    if not hasattr(np, 'in1d'):
        np.in1d = _in1d
    mmcv.adjust_hue = mmcv.image.adjust_hue = adjust_hue
    photometric.adjust_hue = adjust_hue
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'),
        loader=load_remote_checkpoint,
        force=True)
    # other schemes (open-mmlab://, torchvision://) call this by name
    mmengine_checkpoint.load_from_http = load_remote_checkpoint
    dist_utils._init_dist_pytorch = _init_dist_pytorch
    MMDistributedDataParallel.__init__ = _ddp_init
