"""What a config leaves to the data: the image folder, the memory length
and K.

An image-folder config (``configs/selfsup/*/*_image-folder.py``) writes
:data:`IMAGE_FOLDER` as the ``data_root`` of its datasets and takes the
folder from the top-level key ``image_folder`` (a line of the user's
config, or ``--cfg-options image_folder=DIR``); :func:`resolve_image_folder`
puts it into every dataset.

A config may write ``'auto'`` for ``model.memory_bank.length`` (the number
of training images ``N``) and for the number of clusters
(``model.memory_bank.num_classes``, ``model.head.num_classes`` and the
``clustering.k`` of a ``DeepClusterHook``). :func:`resolve_data_sizes`
builds the training set once, counts it and writes the numbers into the
config before the Runner is built (``tools/train.py`` and the other tools
call it), so the memory's banks are allocated at their size before
training and saved in every checkpoint as before.

The rule for ``K = 'auto'``: one cluster per :data:`IMAGES_PER_CLUSTER`
training images, rounded, within :data:`CLUSTER_BOUNDS` (and never more
than ``N``): 5,000 images give 10 clusters, 60,000 give 60, 1.28 million
give 1,281. ODC's ``min_cluster`` is then checked against ``N`` by the
memory, with a message saying what to lower.
"""
import os.path as osp
from typing import Any, Dict, List, Optional

from mmengine.config import Config
from mmengine.logging import print_log

from mmodc.datasets.image_files import list_image_files
from mmodc.utils.config_nodes import find_dicts
from mmodc.utils.sizes import AUTO

#: The ``data_root`` of image-folder configs, replaced by ``image_folder``.
IMAGE_FOLDER = '{image_folder}'
#: Training images per cluster of the ``K = 'auto'`` rule.
IMAGES_PER_CLUSTER = 1000
#: Lowest and highest ``K`` of the rule.
CLUSTER_BOUNDS = (10, 10000)


def auto_num_clusters(num_images: int) -> int:
    """``K`` of the documented rule for ``num_images`` training images.

    Args:
        num_images (int): ``N``.

    Returns:
        int: ``round(N / IMAGES_PER_CLUSTER)`` within
        :data:`CLUSTER_BOUNDS`, at most ``N``.
    """
    low, high = CLUSTER_BOUNDS
    return min(max(round(num_images / IMAGES_PER_CLUSTER), low), high,
               num_images)


def size_fields(cfg: Config) -> Dict[str, str]:
    """The config's size fields that exist, by dotted key: ``'length'`` or
    ``'clusters'``."""
    fields = {}
    memory = cfg.model.get('memory_bank')
    if memory is not None:
        fields['model.memory_bank.length'] = 'length'
        fields['model.memory_bank.num_classes'] = 'clusters'
    if 'num_classes' in cfg.model.get('head', {}):
        fields['model.head.num_classes'] = 'clusters'
    for index, hook in enumerate(cfg.get('custom_hooks') or []):
        if hook.get('type') == 'DeepClusterHook' and 'k' in hook.get(
                'clustering', {}):
            fields[f'custom_hooks.{index}.clustering.k'] = 'clusters'
    return fields


def resolve_data_sizes(cfg: Config) -> Optional[int]:
    """Replace the config's ``'auto'`` sizes by those of its training set.

    Args:
        cfg (mmengine.Config): The complete config, changed in place.

    Returns:
        int, optional: ``N`` when it had to be counted, else None.

    Raises:
        ValueError: If the cluster counts disagree, or ``K`` is larger
            than ``N``.
    """
    fields = size_fields(cfg)
    values = {key: _get(cfg, key) for key in fields}
    auto = [key for key, value in values.items() if value == AUTO]
    if not auto:
        _check_same_clusters(values, fields)
        return None
    num_images = count_training_images(cfg)
    num_clusters = _explicit_clusters(values, fields) or auto_num_clusters(
        num_images)
    for key in auto:
        value = num_images if fields[key] == 'length' else num_clusters
        _set(cfg, key, value)
        values[key] = value
    _check_same_clusters(values, fields)
    if num_clusters > num_images:
        raise ValueError(
            f'{num_clusters} clusters for {num_images} training images: '
            'give fewer clusters (or more images).')
    print_log(
        f'Sizes from the data: {num_images} training images, '
        f'{num_clusters} clusters; set {", ".join(auto)}.', logger='current')
    return num_images


def resolve_image_folder(cfg: Config) -> None:
    """Put ``cfg.image_folder`` into every dataset whose ``data_root`` is
    :data:`IMAGE_FOLDER`.

    Args:
        cfg (mmengine.Config): The complete config, changed in place.

    Raises:
        ValueError: If such datasets exist and ``image_folder`` is not set,
            is not a directory or has a symbolic link loop.
    """
    roots = [root for key in list(cfg.keys()) for root in find_dicts(
        cfg[key], lambda node: node.get('data_root') == IMAGE_FOLDER)]
    if not roots:
        return
    folder = cfg.get('image_folder')
    if not folder:
        raise ValueError(
            'This config trains on a folder of images: set image_folder = '
            "'/path/to/images' in your config (or --cfg-options "
            'image_folder=/path/to/images).')
    if not osp.isdir(folder):
        raise ValueError(f'image_folder={folder!r} is not a directory.')
    loops = list_image_files(folder).symlink_loops
    if loops:
        raise ValueError(
            f'image_folder={folder!r} has symbolic links that lead back to '
            f'a folder above them ({", ".join(loops[:3])}); the dataset '
            'would follow them forever: remove them.')
    for node in roots:
        node['data_root'] = folder


def count_training_images(cfg: Config) -> int:
    """Length of the config's training set, built once.

    Args:
        cfg (mmengine.Config): A config with ``train_dataloader.dataset``.

    Returns:
        int: ``N``.
    """
    from mmengine.registry import DATASETS, init_default_scope
    if cfg.get('train_dataloader') is None:
        raise ValueError('A size is "auto" but the config has no '
                         'train_dataloader to count.')
    init_default_scope(cfg.get('default_scope', 'mmodc'))
    return len(DATASETS.build(cfg.train_dataloader.dataset))


def _explicit_clusters(values: Dict[str, Any],
                       fields: Dict[str, str]) -> Optional[int]:
    """The number of clusters one field gives explicitly, if any."""
    explicit = [
        value for key, value in values.items()
        if fields[key] == 'clusters' and value != AUTO
    ]
    return explicit[0] if explicit else None


def _check_same_clusters(values: Dict[str, Any],
                         fields: Dict[str, str]) -> None:
    """Every cluster-count field must give the same K."""
    clusters = {key: value for key, value in values.items()
                if fields[key] == 'clusters'}
    if len(set(clusters.values())) > 1:
        listed = ', '.join(f'{key}={value}' for key, value in
                           clusters.items())
        raise ValueError(f'The numbers of clusters differ: {listed}; give '
                         f'them one value (or "{AUTO}").')


def _parts(key: str) -> List[Any]:
    return [int(part) if part.isdigit() else part for part in key.split('.')]


def _get(cfg: Config, key: str) -> Any:
    node = cfg
    for part in _parts(key):
        node = node[part]
    return node


def _set(cfg: Config, key: str, value: Any) -> None:
    *parents, last = _parts(key)
    node = cfg
    for part in parents:
        node = node[part]
    node[last] = value
