"""NaN or Inf during training stops it with the iteration and the samples
at fault, before the memory is written, so the last checkpoint is clean
and training resumes from it (the real Runner in subprocesses)."""
import os
import os.path as osp
import subprocess

import pytest
import torch
from conftest import shrink_config, train_in_subprocess, with_test_hook
from mmpretrain.structures import DataSample

from mmodc.models.utils.finite_checks import (
    check_finite_features,
    check_finite_loss,
)

MEMORY = 'memory_bank.'


def samples(*indices):
    return [DataSample(metainfo=dict(sample_idx=index)) for index in indices]


def test_non_finite_features_name_the_images_at_fault():
    inputs = torch.zeros(3, 1, 4, 4)
    features = torch.ones(3, 2)
    check_finite_features('ODC', inputs, features, samples(7, 8, 9))
    inputs[1, 0, 2, 2] = float('inf')
    features[:] = float('nan')  # BatchNorm spreads one bad image
    with pytest.raises(FloatingPointError) as info:
        check_finite_features('ODC', inputs, features, samples(7, 8, 9))
    message = str(info.value)
    assert 'the input images of samples [8] (1 sample) hold NaN or Inf' in \
        message
    assert 'last checkpoint is clean' in message
    assert '--resume' in message


def test_diverged_features_and_loss_name_the_batch():
    features = torch.ones(3, 2)
    features[2, 1] = float('nan')
    with pytest.raises(FloatingPointError,
                       match=r'the network diverged; samples \[9\]'):
        check_finite_features('ODC', torch.zeros(3, 1, 4, 4), features,
                              samples(7, 8, 9))
    check_finite_loss('DeepCluster', torch.tensor(1.5), samples(7, 8, 9), 3)
    with pytest.raises(FloatingPointError,
                       match=r'the loss is inf .* samples \[7, 8, 9\] '
                       r'\(3 samples\)'):
        check_finite_loss('DeepCluster', torch.tensor(float('inf')),
                          samples(7, 8, 9), 3)


def train(config: str, work_dir: str, nan_at: str = '',
          *extra: str) -> subprocess.CompletedProcess:
    return train_in_subprocess(config, work_dir, *extra,
                               env=dict(MMODC_NAN_AT=nan_at))


@pytest.fixture(scope='module')
def nan_config(quickstart_cfg, tmp_path_factory) -> str:
    """A tiny ODC run of 2 epochs (6 iterations each) with the NaN hook."""
    root = tmp_path_factory.mktemp('non_finite')
    cfg = shrink_config(quickstart_cfg, num_images=120, num_clusters=6,
                        batch_size=20, work_dir=str(root / 'unused'))
    with_test_hook(cfg, 'NaNImageHook', 'nan_hook')
    cfg.train_cfg.max_epochs = 2
    config = str(root / 'odc_tiny_nan.py')
    cfg.dump(config)
    return config


def test_nan_image_stops_before_the_memory_and_resume_goes_on(
        nan_config, tmp_path):
    work_dir = str(tmp_path / 'run')
    stopped = train(nan_config, work_dir, '8:3')  # epoch 2, 3rd iteration
    assert stopped.returncode != 0
    with open(osp.join(work_dir, 'nan_sample.txt')) as file:
        sample = int(file.read())
    assert ('FloatingPointError: ODC: non-finite features (NaN or Inf) at '
            f'iteration 9; the input images of samples [{sample}] (1 '
            'sample) hold NaN or Inf') in stopped.stderr
    names = os.listdir(work_dir)
    assert 'epoch_1.pth' in names and 'epoch_2.pth' not in names
    clean = torch.load(osp.join(work_dir, 'epoch_1.pth'),
                       weights_only=False)['state_dict']
    assert torch.isfinite(clean[MEMORY + 'feature_bank']).all()

    resumed = train(nan_config, work_dir, '', '--resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    state = torch.load(osp.join(work_dir, 'epoch_2.pth'),
                       weights_only=False)['state_dict']
    assert torch.isfinite(state[MEMORY + 'feature_bank']).all()
    assert not torch.equal(state[MEMORY + 'feature_bank'],
                           clean[MEMORY + 'feature_bank'])
