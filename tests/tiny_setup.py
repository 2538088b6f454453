"""A tiny image folder and a tiny MMPretrain classifier config for tests
that run real training (a few CPU seconds), shared by the packaging and
compatibility tests.
"""
import os
import os.path as osp
import socket
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import yaml
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]


def make_image_folder(root: Path, per_class: int = 4, size: int = 32) -> Path:
    """Write ``2 * per_class`` random RGB PNGs in class folders a/ and b/.

    Args:
        root (Path): Directory to create.
        per_class (int): Images in each class folder.
        size (int): Side of the square images.

    Returns:
        Path: ``root``.
    """
    rng = np.random.default_rng(0)
    for label in ('a', 'b'):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f'{i}.png')
    return root


def write_images(folder: Path, count: int, seed: int) -> None:
    """``count`` images in nested sub-folders: PNG and JPEG, grey and
    colour, sizes from 40 to 90 pixels."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        sub = folder / ('flat' if index % 3 == 0 else f'a/b{index % 2}')
        sub.mkdir(parents=True, exist_ok=True)
        height, width = rng.integers(40, 91, 2)
        grey = index % 4 == 0
        shape = (height, width) if grey else (height, width, 3)
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        suffix = 'png' if index % 2 else 'jpg'
        Image.fromarray(pixels).save(sub / f's{seed}_{index}.{suffix}')


# --cfg-options for the CPU image-folder ODC config: one short epoch,
# batches of 48, no workers, small clusters allowed
FOLDER_TRAIN_OPTIONS = [
    'train_cfg.max_epochs=1', 'train_dataloader.batch_size=48',
    'train_dataloader.num_workers=0', 'model.memory_bank.min_cluster=4',
    'custom_hooks.0.extract_dataloader.num_workers=0',
    'custom_hooks.3.dataloader.num_workers=0',
    'custom_hooks.3.dataloader.batch_size=48'
]


def image_folder_loader(data_root: Path, batch_size: int,
                        shuffle: bool) -> Dict[str, Any]:
    """A dataloader config of the image folder, no workers.

    Args:
        data_root (Path): A folder made by :func:`make_image_folder`.
        batch_size (int): Images per batch.
        shuffle (bool): Whether the sampler shuffles.

    Returns:
        dict: The dataloader config.
    """
    return dict(
        batch_size=batch_size,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=shuffle),
        dataset=dict(
            type='CustomDataset',
            data_root=str(data_root),
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='PackInputs')]))


def tiny_config(data_root: Path,
                work_dir: Optional[Path] = None,
                max_iters: Optional[int] = None,
                seed: int = 0,
                with_test: bool = False) -> Dict[str, Any]:
    """A ResNet-18 (8 base channels) classifier config on ``data_root``.

    Only MMPretrain and MMEngine types, looked up from the ``mmodc`` scope.

    Args:
        data_root (Path): A folder made by :func:`make_image_folder`.
        work_dir (Path, optional): Work directory (else left to the tool).
        max_iters (int, optional): Iteration-based training of this many
            iterations; one epoch if not given.
        seed (int): Random seed.
        with_test (bool): Add a test split (``test_dataloader`` on
            ``data_root``, top-1 ``Accuracy``) for ``tools/test.py``.

    Returns:
        dict: The config as a dict (for :class:`mmengine.Config`).
    """
    by_epoch = max_iters is None
    cfg = dict(
        default_scope='mmodc',
        model=dict(
            type='ImageClassifier',
            data_preprocessor=dict(
                num_classes=2, mean=[127.5] * 3, std=[127.5] * 3),
            backbone=dict(
                type='ResNet',
                depth=18,
                stem_channels=8,
                base_channels=8,
                out_indices=(3, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=2,
                in_channels=64,
                loss=dict(type='CrossEntropyLoss'))),
        # num_workers=0 and no persistent_workers: tools/train.py must cope
        train_dataloader=image_folder_loader(data_root, 2, shuffle=True),
        train_cfg=(dict(by_epoch=True, max_epochs=1) if by_epoch else dict(
            by_epoch=False, max_iters=max_iters)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(
                type='CheckpointHook', interval=1, by_epoch=by_epoch)),
        log_processor=dict(by_epoch=by_epoch),
        # nccl on purpose: without CUDA the tools switch to gloo
        env_cfg=dict(dist_cfg=dict(backend='nccl')),
        randomness=dict(seed=seed),
    )
    if work_dir is not None:
        cfg['work_dir'] = str(work_dir)
    if with_test:
        cfg.update(
            test_dataloader=image_folder_loader(data_root, 4, shuffle=False),
            test_evaluator=dict(type='Accuracy', topk=(1, )),
            test_cfg=dict())
    return cfg


def write_config(cfg: Dict[str, Any], path: Path) -> Path:
    """Write a config dict as a Python config file.

    Args:
        cfg (dict): The config.
        path (Path): The ``.py`` file to write.

    Returns:
        Path: ``path``.
    """
    lines = [f'{key} = {value!r}' for key, value in cfg.items()]
    path.write_text('\n'.join(lines) + '\n')
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> Dict[str, str]:
    """The environment for a child Python that must not see this checkout
    through ``PYTHONPATH`` (``extra`` added).
    """
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(extra)
    return env


def python_of(venv: Path) -> str:
    """The Python executable of a virtual environment."""
    scripts = 'Scripts' if sys.platform == 'win32' else 'bin'
    return osp.join(str(venv), scripts, 'python')


def read_model_index(root: Path) -> Dict[str, dict]:
    """The models of the metafiles ``root/model-index.yml`` imports, by
    name, read with plain YAML (not with the ``modelindex`` that mim and
    mmodc.apis use).

    Args:
        root (Path): The directory of ``model-index.yml``.

    Returns:
        dict[str, dict]: Each model's metafile entry.
    """
    index = yaml.safe_load((root / 'model-index.yml').read_text())
    return {
        model['Name']: model
        for metafile in index['Import']
        for model in yaml.safe_load((root / metafile).read_text())['Models']
    }


def write_index(index: Path, name: str, weights: str) -> None:
    """A model index with one model, its config linked from the repo.

    Args:
        index (Path): The ``model-index.yml`` to write (its folder gets
            the metafile and links to the repository's configs).
        name (str): An ODC model of ``configs/selfsup/odc/``.
        weights (str): Its weights URL.
    """
    config = f'configs/selfsup/odc/{name}.py'
    (index.parent / 'configs').mkdir(parents=True)
    (index.parent / 'configs' / 'selfsup').symlink_to(
        Path(REPO_ROOT, 'configs', 'selfsup'))
    (index.parent / 'configs' / '_base_').symlink_to(
        Path(REPO_ROOT, 'configs', '_base_'))
    metafile = dict(Models=[dict(Name=name, Config=config, Weights=weights)])
    (index.parent / 'metafile.yml').write_text(yaml.safe_dump(metafile))
    index.write_text(yaml.safe_dump(dict(Import=['metafile.yml'])))
