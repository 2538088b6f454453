"""ODC with two processes (torch.distributed, gloo) through
tools/dist_train.sh: identical memories on both ranks after every iteration,
equal to a one-process run with the same global batch; FeatureMonitorHook
gives the same numbers on both ranks and as one process."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from conftest import REPO, shrink_config
from mmengine.config import Config

NUM_ITERS = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def with_frozen_bn_and_dumps(cfg: Config, dump_hook: str) -> Config:
    """The backbone's BatchNorm frozen (running statistics), so that samples
    do not interact within a batch; no LR schedule, no checkpoints; every
    rank dumps its state with ``dump_hook`` (tests/memory_dump_hook.py)."""
    cfg.model.backbone.norm_cfg = dict(type='BN')  # with running statistics
    cfg.model.backbone.norm_eval = True
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    cfg.custom_hooks.append(dict(type=dump_hook))
    cfg.custom_imports = dict(imports=['memory_dump_hook'])
    return cfg


def deterministic_cfg(quickstart_cfg: Config, batch_size: int,
                      work_dir: str) -> Config:
    """Samples that do not interact within a batch (frozen BN statistics, no
    BN in the neck, no dropout), no random augmentation, fixed order."""
    cfg = with_frozen_bn_and_dumps(
        shrink_config(
            quickstart_cfg, num_images=160, num_clusters=8,
            batch_size=batch_size, work_dir=work_dir), 'MemoryDumpHook')
    cfg.model.neck.update(norm_cfg=None, dropout=0.)
    cluster_hook = next(
        hook for hook in cfg.custom_hooks if hook.type == 'DeepClusterHook')
    cfg.train_dataloader.dataset.pipeline = \
        cluster_hook.extract_dataloader.dataset.pipeline
    cfg.train_dataloader.sampler.shuffle = False
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=NUM_ITERS)
    monitor = next(
        hook for hook in cfg.custom_hooks if hook.type == 'FeatureMonitorHook')
    monitor.update(by_epoch=False, interval=2)  # before, at 2 and at 4
    cfg.custom_hooks.append(dict(type='MonitorDumpHook'))
    return cfg


def launch(cfg: Config, work_dir: str, processes: int) -> None:
    config = osp.join(work_dir, 'config.py')
    os.makedirs(work_dir)
    cfg.dump(config)
    env = dict(os.environ, PORT=str(free_port()),
               PYTHONPATH=os.pathsep.join([REPO, osp.join(REPO, 'tests')]))
    if processes == 1:
        command = [sys.executable, 'tools/train.py', config]
    else:
        command = ['bash', 'tools/dist_train.sh', config, str(processes)]
    result = subprocess.run(
        command + ['--work-dir', work_dir], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]


def banks(work_dir: str, rank: int, iteration: int) -> dict:
    return torch.load(
        osp.join(work_dir, f'rank{rank}_iter{iteration}.pt'),
        weights_only=True)


def test_two_processes_match_each_other_and_one_process(
        quickstart_cfg, tmp_path):
    two, one = str(tmp_path / 'two'), str(tmp_path / 'one')
    launch(deterministic_cfg(quickstart_cfg, 10, two), two, processes=2)
    launch(deterministic_cfg(quickstart_cfg, 20, one), one, processes=1)

    for iteration in range(1, NUM_ITERS + 1):
        rank0, rank1 = banks(two, 0, iteration), banks(two, 1, iteration)
        for name, value in rank0.items():
            assert torch.equal(value, rank1[name]), (name, iteration)
        single = banks(one, 0, iteration)
        assert torch.equal(rank0['label_bank'], single['label_bank'])
        assert torch.equal(rank0['cluster_counts'],
                           single['cluster_counts'])
        for name in ('feature_bank', 'centroids', 'class_weights'):
            torch.testing.assert_close(
                rank0[name], single[name], atol=1e-5, rtol=0)
    # the monitor: rank 0's scores on both ranks, and those of one process
    records = {
        name: json.load(open(osp.join(work_dir, f'monitor_rank{rank}.json')))
        for name, work_dir, rank in (('rank0', two, 0), ('rank1', two, 1),
                                     ('single', one, 0))
    }
    assert [r['iter'] for r in records['rank0']] == [0, 2, 4]
    scores = ('backbone/knn_top1', 'backbone/nmi', 'backbone/acc',
              'backbone/ari', 'pseudo_label_nmi')
    for ours, theirs, single in zip(*records.values()):
        assert [ours[key] for key in scores] == [theirs[key] for key in scores]
        assert [ours[key] for key in scores] == pytest.approx(
            [single[key] for key in scores], abs=1e-4)
    # the global batch of 20 samples was written each iteration
    first, last = banks(one, 0, 1), banks(one, 0, NUM_ITERS)
    changed = (first['feature_bank'] != last['feature_bank']).any(dim=1)
    assert int(changed.sum()) == 20 * (NUM_ITERS - 1)
