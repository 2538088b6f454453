"""Fashion-MNIST read from its idx files, serving dataset indices."""
import gzip
import os.path as osp
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset

from mmodc.registry import DATASETS

DEFAULT_ROOT = '/usr/share/datasets/fashion-mnist'
_IDX_MAGIC = {'images': 2051, 'labels': 2049}


def read_idx(path: str, kind: str) -> np.ndarray:
    """Read an MNIST-style idx file (``.gz`` or plain).

    Args:
        path (str): The file.
        kind (str): 'images' (``N x H x W`` uint8) or 'labels' (``N``).

    Returns:
        np.ndarray: The array.
    """
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as stream:
        data = stream.read()
    magic, count = np.frombuffer(data[:8], dtype='>i4')
    if magic != _IDX_MAGIC[kind]:
        raise ValueError(
            f'{path} is not an idx {kind} file (magic number {magic}, '
            f'expected {_IDX_MAGIC[kind]}).')
    if kind == 'labels':
        return np.frombuffer(data[8:], dtype=np.uint8).astype(np.int64)
    rows, cols = np.frombuffer(data[8:16], dtype='>i4')
    return np.frombuffer(data[16:], dtype=np.uint8).reshape(count, rows, cols)


@DATASETS.register_module()
class FashionMNIST(BaseDataset):
    """Fashion-MNIST (60,000 train / 10,000 test grey 28 x 28 images).

    Reads ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` from
    ``data_root`` (Debian's ``dataset-fashion-mnist`` installs them into
    ``/usr/share/datasets/fashion-mnist``). Each sample gives ``img`` (a
    ``28 x 28`` uint8 array) and its ``sample_idx``. The class labels are not
    put into the samples, so self-supervised training never sees them; they
    are kept in :attr:`gt_labels` for monitoring (:meth:`get_gt_labels`), or
    served as ``gt_label`` when ``with_label=True`` (for linear or kNN
    evaluation pipelines).

    Args:
        data_root (str): Folder of the idx files.
        split (str): 'train' or 'test'.
        with_label (bool): Put ``gt_label`` into each sample. Defaults to
            False.
        pipeline (Sequence): Transforms.
        indices (int | Sequence[int], optional): Use a subset (the first
            ``indices`` samples or the given ones).
        index_range (tuple[int, int], optional): Use the file rows
            ``[start, stop)`` only, e.g. ``(50000, 60000)`` for a validation
            split carved from the training images. Applied before
            ``indices``.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(classes=('T-shirt/top', 'Trouser', 'Pullover', 'Dress',
                             'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
                             'Ankle boot'))
    _PREFIX = dict(train='train', test='t10k')

    def __init__(self,
                 data_root: str = DEFAULT_ROOT,
                 split: str = 'train',
                 with_label: bool = False,
                 pipeline: Sequence = (),
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 index_range: Optional[Tuple[int, int]] = None,
                 **kwargs) -> None:
        if split not in self._PREFIX:
            raise ValueError(
                f'FashionMNIST: split must be "train" or "test", got '
                f'"{split}".')
        self.split = split
        self.with_label = with_label
        self.index_range = index_range
        self.images = None
        self.labels = None
        self.rows = None
        kwargs.setdefault('serialize_data', False)
        super().__init__(
            data_root=data_root, pipeline=pipeline, indices=indices, **kwargs)

    def _idx_file(self, kind: str) -> str:
        suffix = 'images-idx3-ubyte' if kind == 'images' else \
            'labels-idx1-ubyte'
        stem = osp.join(self.data_root, f'{self._PREFIX[self.split]}-{suffix}')
        for path in (stem + '.gz', stem):
            if osp.isfile(path):
                return path
        raise FileNotFoundError(
            f'FashionMNIST: {stem}.gz not found. Install the data with '
            '`apt-get install dataset-fashion-mnist` (Debian/Ubuntu) or '
            'download the four idx files of Fashion-MNIST into a folder and '
            'set the dataset\'s data_root to it.')

    def load_data_list(self) -> list:
        """Read the idx files; one entry per image (its row in the file)."""
        self.images = read_idx(self._idx_file('images'), 'images')
        self.labels = read_idx(self._idx_file('labels'), 'labels')
        if len(self.images) != len(self.labels):
            raise ValueError(
                f'FashionMNIST: {len(self.images)} images but '
                f'{len(self.labels)} labels in {self.data_root}.')
        start, stop = self._checked_range(len(self.images))
        return [dict(row=row) for row in range(start, stop)]

    def _checked_range(self, num_rows: int) -> Tuple[int, int]:
        """``index_range`` (default: all rows), checked against the file."""
        if self.index_range is None:
            return 0, num_rows
        start, stop = (int(value) for value in self.index_range)
        if not 0 <= start < stop <= num_rows:
            raise ValueError(
                f'FashionMNIST: index_range={tuple(self.index_range)} is not '
                f'a non-empty range inside the {num_rows} rows of the '
                f'{self.split} split; give (start, stop) with 0 <= start < '
                f'stop <= {num_rows}.')
        return start, stop

    def get_data_info(self, idx: int) -> dict:
        """The sample ``idx``: its image, index and (optionally) label."""
        info = super().get_data_info(idx)
        row = info.pop('row')
        info['img'] = self.images[row]
        info['img_shape'] = info['ori_shape'] = self.images.shape[1:]
        if self.with_label:
            info['gt_label'] = int(self.labels[row])
        return info

    def full_init(self) -> None:
        """Load the files and note the file row of every sample."""
        if self._fully_initialized:
            return
        super().full_init()
        self.rows = np.array([info['row'] for info in self.data_list],
                             dtype=np.int64)

    def get_gt_labels(self) -> np.ndarray:
        """Class labels in dataset order, for monitoring only.

        Returns:
            np.ndarray: ``len(self)`` int64 labels.
        """
        self.full_init()
        return self.labels[self.rows]
