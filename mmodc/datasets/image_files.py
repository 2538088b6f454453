"""The image files of a folder, listed and decoded one by one, with every
file that cannot be read kept on record instead of dropped."""
import inspect
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch
from mmengine.dataset import default_collate
from mmpretrain.datasets import CustomDataset
from PIL import UnidentifiedImageError
from torch.utils.data import Dataset

#: The suffixes taken for images: those of MMPretrain's CustomDataset, so
#: that a folder lists the same images for training and for the tools.
IMAGE_EXTENSIONS: Tuple[str, ...] = inspect.signature(
    CustomDataset.__init__).parameters['extensions'].default


@dataclass
class ImageListing:
    """What a folder holds.

    Attributes:
        root (str): The folder.
        images (list[str]): Paths of the files with an image suffix,
            relative to ``root``, sorted.
        other_files (list[str]): Paths of the other files (not read).
        symlink_loops (list[str]): Folders not entered because a symbolic
            link leads back to a folder above them.
    """
    root: str
    images: List[str] = field(default_factory=list)
    other_files: List[str] = field(default_factory=list)
    symlink_loops: List[str] = field(default_factory=list)


def list_image_files(root: str,
                     extensions: Sequence[str] = IMAGE_EXTENSIONS
                     ) -> ImageListing:
    """List the images of a folder and its sub-folders (links followed).

    Args:
        root (str): The folder.
        extensions (Sequence[str]): Image suffixes (case-insensitive).

    Returns:
        ImageListing: The images, the other files and the link loops.
    """
    if not osp.isdir(root):
        raise NotADirectoryError(
            f'{root} is not a directory; give the folder of images.')
    listing = ImageListing(root)
    suffixes = tuple(suffix.lower() for suffix in extensions)
    on_path = {}  # real path of each folder being walked -> its path
    for folder, subfolders, files in os.walk(
            osp.normpath(root), followlinks=True):
        on_path = {real: path for real, path in on_path.items()
                   if _is_inside(folder, path)}
        on_path[osp.realpath(folder)] = folder
        relative = osp.relpath(folder, osp.normpath(root))
        for name in sorted(subfolders):
            if osp.realpath(osp.join(folder, name)) in on_path:
                subfolders.remove(name)
                listing.symlink_loops.append(_join(relative, name))
        for name in files:
            kind = (listing.images if name.lower().endswith(suffixes)
                    else listing.other_files)
            kind.append(_join(relative, name))
    listing.images.sort()
    listing.other_files.sort()
    return listing


def _is_inside(folder: str, ancestor: str) -> bool:
    """Whether ``folder`` is ``ancestor`` or below it (as walked paths)."""
    return folder == ancestor or folder.startswith(ancestor + os.sep)


def _join(relative: str, name: str) -> str:
    """``relative/name``, without a leading ``./``."""
    return name if relative == '.' else osp.join(relative, name)


def decode_image(path: str, color_type: str = 'color') -> np.ndarray:
    """Decode a whole image file with Pillow, as ``mmcv.imread`` would.

    Pillow, not OpenCV: OpenCV returns the decoded part of a truncated
    JPEG with a warning only, Pillow refuses it.

    Args:
        path (str): The file.
        color_type (str): ``'color'`` (``H x W x 3`` BGR) or
            ``'grayscale'`` (``H x W``).

    Returns:
        np.ndarray: The pixels.

    Raises:
        OSError: The file is empty, truncated, unreadable or not an
            image; the message says which.
    """
    with open(path, 'rb') as file:
        content = file.read()
    if not content:
        raise OSError('empty file (0 bytes)')
    try:
        image = mmcv.imfrombytes(content, flag=color_type, backend='pillow')
    except UnidentifiedImageError as error:
        raise OSError('not an image (no format Pillow reads)') from error
    except Exception as error:  # Pillow raises many types on bad data
        raise OSError(f'truncated or corrupt image ({error})') from error
    if image is None or image.size == 0:
        raise OSError('not a readable image (nothing decoded)')
    return image


class ImageFileDataset(Dataset):
    """Decoded images of a listing through a pipeline; a file that cannot
    be read gives its error instead of a sample.

    Args:
        root (str): The folder.
        paths (Sequence[str]): Image paths relative to ``root``.
        pipeline (Callable): Transforms of one decoded image (a results
            dict with ``img``) into a packed sample.
        color_type (str): How to decode: ``'color'`` or ``'grayscale'``.
    """

    def __init__(self, root: str, paths: Sequence[str],
                 pipeline: Callable[[dict], dict],
                 color_type: str = 'color') -> None:
        self.root = root
        self.paths = list(paths)
        self.pipeline = pipeline
        self.color_type = color_type

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Dict:
        """``{'index', 'sample'}``, or ``{'index', 'error'}`` for a file
        that cannot be read."""
        path = osp.join(self.root, self.paths[index])
        try:
            image = decode_image(path, self.color_type)
        except OSError as error:
            return dict(index=index, error=str(error))
        shape = image.shape[:2]
        sample = self.pipeline(dict(img=image, img_path=path,
                                    img_shape=shape, ori_shape=shape,
                                    sample_idx=index))
        return dict(index=index, sample=sample)


def collate_readable(items: List[Dict]
                     ) -> Tuple[Optional[dict], torch.Tensor,
                                List[Tuple[int, str]]]:
    """Batch the readable samples of :class:`ImageFileDataset` items.

    Args:
        items (list[dict]): Items of the dataset.

    Returns:
        tuple: The batch of readable samples (``default_collate``; None if
        there is none), their indices, and ``(index, error)`` of the
        others.
    """
    readable = [item for item in items if 'sample' in item]
    batch = (default_collate([item['sample'] for item in readable])
             if readable else None)
    indices = torch.tensor([item['index'] for item in readable],
                           dtype=torch.long)
    errors = [(item['index'], item['error'])
              for item in items if 'error' in item]
    return batch, indices, errors
