"""ODC with two processes (torch.distributed, gloo) through
tools/dist_train.sh: identical memories on both ranks after every iteration
(an uneven last batch included), equal to a one-process run with the same
global batch; FeatureMonitorHook gives the same numbers on both ranks and
as one process; a 2-process run resumes with 1 or 2 processes, and a
4-process run with a sharded memory with 2, to the same state; a rank
that raises stops both processes, with its error."""
import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
import time
from typing import Optional

import pytest
import torch
from conftest import REPO, shrink_config, with_test_hook
from mmengine.config import Config

from mmodc.models.utils import read_state_dict

# they start training processes (-m "not slow" leaves them out)
pytestmark = pytest.mark.slow

NUM_ITERS = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def freeze_backbone_bn(cfg: Config) -> Config:
    """The backbone's BatchNorm frozen to its running statistics, so that
    samples do not interact within a batch."""
    cfg.model.backbone.norm_cfg = dict(type='BN')  # with running statistics
    cfg.model.backbone.norm_eval = True
    return cfg


def with_frozen_bn_and_dumps(cfg: Config, dump_hook: str) -> Config:
    """:func:`freeze_backbone_bn`, no LR schedule, no checkpoints; every
    rank dumps its state with ``dump_hook`` (tests/memory_dump_hook.py)."""
    freeze_backbone_bn(cfg)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    cfg.custom_hooks.append(dict(type=dump_hook))
    cfg.custom_imports = dict(imports=['memory_dump_hook'])
    return cfg


def non_interacting(cfg: Config) -> Config:
    """ODC whose samples do not interact within a batch (frozen backbone
    BatchNorm, no BN in the neck, no dropout), without random
    augmentation."""
    freeze_backbone_bn(cfg)
    cfg.model.neck.update(norm_cfg=None, dropout=0.)
    cfg.model.data_preprocessor.augment = None
    return cfg


def deterministic_cfg(quickstart_cfg: Config, batch_size: int,
                      work_dir: str) -> Config:
    """160 images in a fixed order through :func:`non_interacting`, every
    rank dumping its memory after every iteration and its monitor records
    after training."""
    cfg = with_frozen_bn_and_dumps(non_interacting(shrink_config(
        quickstart_cfg, num_images=160, num_clusters=8,
        batch_size=batch_size, work_dir=work_dir)), 'MemoryDumpHook')
    cfg.train_dataloader.sampler.shuffle = False
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=NUM_ITERS)
    monitor = next(
        hook for hook in cfg.custom_hooks if hook.type == 'FeatureMonitorHook')
    monitor.update(by_epoch=False, interval=2)  # before, at 2 and at 4
    cfg.custom_hooks.append(dict(type='MonitorDumpHook'))
    return cfg


def launch(cfg: Config, work_dir: str, processes: int, *extra: str,
           env: Optional[dict] = None,
           check: bool = True) -> subprocess.CompletedProcess:
    """Train ``cfg`` with ``processes`` processes (tools/dist_train.sh for
    more than one), its config written into ``work_dir``; one OpenMP
    thread per process, as torch.distributed.run sets for several (nothing
    tested depends on the thread count; spinning threads of processes that
    share two cores make small tensor work many times slower)."""
    config = osp.join(work_dir, 'config.py')
    os.makedirs(work_dir, exist_ok=True)
    cfg.dump(config)
    env = {**os.environ, 'PORT': str(free_port()), 'OMP_NUM_THREADS': '1',
           **(env or {}),
           'PYTHONPATH': os.pathsep.join([REPO, osp.join(REPO, 'tests')])}
    if processes == 1:
        command = [sys.executable, 'tools/train.py', config]
    else:
        command = ['bash', 'tools/dist_train.sh', config, str(processes)]
    result = subprocess.run(
        command + ['--work-dir', work_dir, *extra], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=400)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


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


def test_an_uneven_last_batch_keeps_the_ranks_identical(quickstart_cfg,
                                                        tmp_path):
    """151 images, 2 x 20 per batch: each rank's fourth batch has 16
    (the sampler repeats one image to even the ranks out)."""
    work_dir = str(tmp_path / 'uneven')
    cfg = shrink_config(quickstart_cfg, num_images=151, num_clusters=8,
                        batch_size=20, work_dir=work_dir)
    with_test_hook(cfg, 'MemoryDumpHook', 'memory_dump_hook')
    cfg.train_dataloader.drop_last = False
    cfg.train_cfg.max_epochs = 1
    launch(cfg, work_dir, processes=2)
    for iteration in range(1, 5):
        rank0, rank1 = banks(work_dir, 0, iteration), banks(work_dir, 1,
                                                             iteration)
        for name, value in rank0.items():
            assert torch.equal(value, rank1[name]), (name, iteration)
    assert not osp.exists(osp.join(work_dir, 'rank0_iter5.pt'))
    first, last = banks(work_dir, 0, 1), banks(work_dir, 0, 4)
    changed = (first['feature_bank'] != last['feature_bank']).any(dim=1)
    # the 152 drawn (151 + the first one again) less iteration 1's 40
    assert int(changed.sum()) == 152 - 40


def resumable_cfg(quickstart_cfg: Config, batch_size: int, work_dir: str,
                  memory: str = 'ODCMemory') -> Config:
    """80 shuffled images through :func:`non_interacting`, one epoch, a
    checkpoint after it, the memory of type ``memory``."""
    cfg = non_interacting(shrink_config(
        quickstart_cfg, num_images=80, num_clusters=8,
        batch_size=batch_size, work_dir=work_dir))
    cfg.model.memory_bank.type = memory
    cfg.custom_hooks = [hook for hook in cfg.custom_hooks
                        if hook.type != 'FeatureMonitorHook']
    # the quickstart clusters the embeddings' whitened PCA-64; whitening
    # 64 components of 80 rows amplifies float rounding (which differs with
    # the process count) into other labels, 4 components keep the
    # clusterings well-conditioned
    cluster_hook = next(h for h in cfg.custom_hooks
                        if h.type == 'DeepClusterHook')
    cluster_hook.clustering.pca_dim = 4
    cfg.train_cfg.max_epochs = 1
    return cfg


def epoch_1_of(run: str, work_dir: str) -> None:
    """``work_dir``: a copy of the 2-epoch ``run`` as a kill before its
    epoch 2 checkpoint would have left it (epoch 1's checkpoint, the
    pointer naming it)."""
    shutil.copytree(run, work_dir)
    os.remove(osp.join(work_dir, 'epoch_2.pth'))
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as pointer:
        pointer.write(osp.join(work_dir, 'epoch_1.pth'))


def test_a_run_resumes_with_another_number_of_processes(quickstart_cfg,
                                                        tmp_path):
    """2 processes of 10 images each not interrupted for 2 epochs; their
    epoch 1 resumed for epoch 2 with 2 processes and with 1 process of 20
    images; epoch 1 with 4 processes of 5 images and a ShardedODCMemory
    (shard files), resumed with 2 processes (re-sharded): the same memory
    and weights."""
    runs = {'uninterrupted': str(tmp_path / 'uninterrupted')}
    launch(resumable_cfg(quickstart_cfg, 10, runs['uninterrupted']),
           runs['uninterrupted'], 2, '--cfg-options', 'train_cfg.max_epochs=2')
    first_sharded = str(tmp_path / 'first-sharded')
    launch(resumable_cfg(quickstart_cfg, 5, first_sharded,
                         'ShardedODCMemory'), first_sharded, 4)
    sharded = torch.load(osp.join(first_sharded, 'epoch_1.pth'),
                         weights_only=False)
    assert sharded['meta']['memory_shards']['world_size'] == 4
    assert 'memory_bank.feature_bank' not in sharded['state_dict']
    assert sorted(os.listdir(osp.join(first_sharded, 'epoch_1.pth.memory')
                             )) == [f'shard-{r}-of-4.pth' for r in range(4)]
    for name, processes, batch_size, memory in (
            ('two', 2, 10, 'ODCMemory'), ('one', 1, 20, 'ODCMemory'),
            ('sharded-four-to-two', 2, 10, 'ShardedODCMemory')):
        work_dir = str(tmp_path / name)
        if memory == 'ShardedODCMemory':
            shutil.copytree(first_sharded, work_dir)
        else:
            epoch_1_of(runs['uninterrupted'], work_dir)
        # only the newest checkpoint kept: epoch 1 goes with its shards
        launch(resumable_cfg(quickstart_cfg, batch_size, work_dir, memory),
               work_dir, processes, '--resume', '--cfg-options',
               'train_cfg.max_epochs=2',
               'default_hooks.checkpoint.max_keep_ckpts=1')
        runs[name] = work_dir
        assert not osp.exists(osp.join(work_dir, 'epoch_1.pth'))
        assert not osp.exists(osp.join(work_dir, 'epoch_1.pth.memory'))
    assert sorted(os.listdir(osp.join(runs['sharded-four-to-two'],
                                      'epoch_2.pth.memory'))) == [
        'shard-0-of-2.pth', 'shard-1-of-2.pth']
    # the whole memory, read from the shard files of sharded checkpoints
    states = {name: read_state_dict(osp.join(work_dir, 'epoch_2.pth'))
              for name, work_dir in runs.items()}
    reference = states['uninterrupted']
    start = read_state_dict(osp.join(runs['uninterrupted'], 'epoch_1.pth'))
    assert not torch.equal(start['memory_bank.feature_bank'],
                           reference['memory_bank.feature_bank'])
    for name in ('two', 'one', 'sharded-four-to-two'):
        state = states[name]
        assert torch.equal(state['memory_bank.label_bank'],
                           reference['memory_bank.label_bank']), name
        for key, value in reference.items():
            torch.testing.assert_close(state[key], value, atol=1e-5,
                                       rtol=1e-5, msg=f'{name}: {key}')


# each place once, and a hook on either rank
FAILURES = [(1, 'loss'), (1, 'data'), (0, 'hook')]


@pytest.mark.parametrize('rank,where', FAILURES)
def test_a_failing_rank_stops_both_processes(quickstart_cfg, tmp_path, rank,
                                             where):
    """A rank raises in the loss, in a hook or in the data pipeline
    (tests/fail_hook.py) in the 3rd iteration: both processes exit
    non-zero well within the time limit (no hang in a collective), and
    the error is printed by the rank that had it."""
    work_dir = str(tmp_path / 'run')
    cfg = shrink_config(quickstart_cfg, num_images=160, num_clusters=8,
                        batch_size=10, work_dir=work_dir)
    with_test_hook(cfg, 'FailHook', 'fail_hook')
    cfg.train_dataloader.dataset.pipeline.insert(
        0, dict(type='FailingTransform'))
    start = time.monotonic()
    result = launch(cfg, work_dir, 2, env=dict(
        MMODC_FAIL_AT=f'{rank}:{where}:{25 if where == "data" else 2}'),
        check=False)
    assert result.returncode != 0
    assert time.monotonic() - start < 120
    assert (f'[rank{rank}]: RuntimeError: injected failure in the {where} '
            f'on rank {rank}') in result.stderr
    root_cause = result.stderr.split('Root Cause (first observed failure)')
    assert f'rank      : {rank} (local_rank: {rank})' in root_cause[1]
    assert not processes_naming(work_dir)


def processes_naming(text: str) -> list:
    """Pids of the running processes whose command line contains
    ``text`` (read from /proc)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as file:
                if text.encode() in file.read():
                    pids.append(int(pid))
        except OSError:  # ended meanwhile
            continue
    return pids
