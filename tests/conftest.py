"""Shared fixtures: tiny ODC / DeepCluster configs on Fashion-MNIST."""
import copy
import os
import os.path as osp
import subprocess
import sys
from typing import Optional

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
QUICKSTART = osp.join(REPO, 'configs', 'selfsup', 'odc',
                      'odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py')
FASHION_MNIST = '/usr/share/datasets/fashion-mnist'

TRAIN = osp.join(REPO, 'tools', 'train.py')

sys.path.insert(0, REPO)


def train_set_cfg(cfg: Config) -> Config:
    """The config of the wrapped dataset of a training dataloader (the
    dataset itself when it is not a ``DeepClusterDataset``)."""
    dataset = cfg.train_dataloader.dataset
    return dataset.dataset if dataset.type == 'DeepClusterDataset' else \
        dataset


def shrink_config(cfg: Config, num_images: int, num_clusters: int,
                  batch_size: int, work_dir: str) -> Config:
    """A copy of an ODC, DeepCluster or CODC config on the first
    ``num_images`` images, with ``num_clusters`` clusters (every memory and
    cluster head), no data loader workers and
    ``work_dir``."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.basename(work_dir)
    for owner in cfg.model.get('members', {'': cfg.model}).values():
        if 'memory_bank' in owner:
            owner.memory_bank.update(
                length=num_images, num_classes=num_clusters, min_cluster=5)
        heads = list(owner.get('heads', {'': owner.get('head')}).values())
        if owner.get('task', {}).get('type') == 'mixup':
            heads.append(owner.task.head)
        for head in heads:
            head.num_classes = num_clusters
    cluster_hook = next(
        hook for hook in cfg.custom_hooks if hook.type == 'DeepClusterHook')
    cluster_hook.clustering.k = num_clusters
    for loader in (cfg.train_dataloader, cluster_hook.extract_dataloader):
        loader.update(
            batch_size=batch_size, num_workers=0, persistent_workers=False)
    train_set_cfg(cfg).indices = num_images
    cluster_hook.extract_dataloader.dataset.indices = num_images
    for hook in cfg.custom_hooks:
        if hook.type == 'FeatureMonitorHook':
            hook.bank_dataloader.dataset.index_range = (0, num_images)
            hook.query_dataloader.dataset.index_range = (
                num_images, 2 * num_images)
        if hook.type == 'BatchNormCalibrationHook':
            hook.dataloader.update(batch_size=batch_size)
            hook.dataloader.dataset.indices = num_images
    cfg.default_hooks.logger.interval = 1
    return cfg


def with_test_hook(cfg: Config, hook: str, module: str) -> Config:
    """``cfg`` without the monitor, with the test-only ``hook`` of
    tests/``module``.py (loaded through ``custom_imports``)."""
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h.type != 'FeatureMonitorHook']
    cfg.custom_hooks.append(dict(type=hook))
    cfg.custom_imports = dict(imports=[module])
    return cfg


def train_in_subprocess(config: str, work_dir: str, *extra: str,
                        env: Optional[dict] = None
                        ) -> subprocess.CompletedProcess:
    """``tools/train.py CONFIG --work-dir WORK_DIR EXTRA...`` in a
    subprocess, tests/ on the path (for test hooks), one OpenMP thread
    (see :func:`single_thread`), ``env`` added."""
    env = dict(os.environ, **{'OMP_NUM_THREADS': '1', **(env or {})},
               PYTHONPATH=os.pathsep.join([REPO, osp.join(REPO, 'tests')]))
    return subprocess.run(
        [sys.executable, TRAIN, config, '--work-dir', work_dir, *extra],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=env)


def pytest_configure(config: pytest.Config) -> None:
    """A pytest-xdist worker (tools/run_tests.sh starts one per CPU core)
    computes with one intra-op thread, so that the workers share the cores
    instead of spinning against each other (see :func:`single_thread`);
    the training subprocesses of the tests have one thread already."""
    if os.environ.get('PYTEST_XDIST_WORKER'):
        import torch
        torch.set_num_threads(1)


@pytest.fixture(scope='module')
def forked_train():
    """A :class:`forked_train.ForkedTrain` for a test module: its
    ``train(config, work_dir, *extra, env=...)`` runs tools/train.py in a
    process of its own forked from one that has imported mmodc once."""
    from forked_train import ForkedTrain
    with ForkedTrain() as forked:
        yield forked


@pytest.fixture(scope='session')
def quickstart_cfg() -> Config:
    """The Fashion-MNIST quickstart config (needs the data installed)."""
    if not osp.isdir(FASHION_MNIST):
        pytest.fail(f'{FASHION_MNIST} is missing: run `apt-get install -y '
                    'dataset-fashion-mnist` (tools/install_deps.sh does).')
    return Config.fromfile(QUICKSTART)


@pytest.fixture(scope='module')
def single_thread():
    """One intra-op thread for a test module: on a small shared machine,
    several threads spinning against other processes make small tensor
    work many times slower (nothing tested depends on the thread count)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
