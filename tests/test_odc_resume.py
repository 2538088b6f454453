"""Resuming ODC in a new process continues exactly where it stopped
(tools/train.py in processes of their own, forked from one that has
imported mmodc: tests/forked_train.py)."""
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import shrink_config
from forked_train import ForkedTrain

# they start training processes (-m "not slow" leaves them out)
pytestmark = pytest.mark.slow

MEMORY = 'memory_bank.'


def run_train(forked: ForkedTrain, config: str, work_dir: str,
              *extra: str) -> None:
    result = forked.train(config, work_dir, *extra)
    assert result.returncode == 0, result.stderr[-3000:]


def load(work_dir: str, epoch: int) -> dict:
    return torch.load(
        osp.join(work_dir, f'epoch_{epoch}.pth'), weights_only=False)


def test_resume_equals_uninterrupted_run(forked_train, quickstart_cfg,
                                         tmp_path):
    cfg = shrink_config(
        quickstart_cfg, num_images=120, num_clusters=6, batch_size=20,
        work_dir=str(tmp_path))
    config = str(tmp_path / 'odc_tiny.py')
    cfg.dump(config)
    whole, split = str(tmp_path / 'whole'), str(tmp_path / 'split')

    run_train(forked_train, config, whole, '--cfg-options',
              'train_cfg.max_epochs=2')
    run_train(forked_train, config, split, '--cfg-options',
              'train_cfg.max_epochs=1')
    first_half = load(split, 1)
    run_train(forked_train, config, split, '--resume', '--cfg-options',
              'train_cfg.max_epochs=2')

    expected, resumed = load(whole, 2), load(split, 2)
    assert resumed['meta']['iter'] == expected['meta']['iter'] == 12
    state, reference = resumed['state_dict'], expected['state_dict']
    # the memory really moved during the second epoch
    assert not torch.equal(first_half['state_dict'][MEMORY + 'feature_bank'],
                           reference[MEMORY + 'feature_bank'])
    assert torch.equal(state[MEMORY + 'label_bank'],
                       reference[MEMORY + 'label_bank'])
    for name in ('feature_bank', 'centroids', 'class_weights'):
        torch.testing.assert_close(
            state[MEMORY + name], reference[MEMORY + name], atol=1e-6,
            rtol=0)
    losses = resumed['message_hub']['log_scalars']['train/loss'].data[0]
    reference_losses = expected['message_hub']['log_scalars'][
        'train/loss'].data[0]
    assert len(losses) == 12
    np.testing.assert_allclose(losses, reference_losses, rtol=1e-6)
    # the quickstart re-fills its memory after every epoch but the last:
    # the re-fill that the first run's last epoch skipped is done on resume,
    # the same as the uninterrupted run's after epoch 1
    files = sorted(p.name for p in (tmp_path / 'split').glob('cluster_*'))
    assert files == ['cluster_epoch_0.npy', 'cluster_epoch_1.npy']
    for name in files:
        np.testing.assert_array_equal(np.load(osp.join(split, name)),
                                      np.load(osp.join(whole, name)))
