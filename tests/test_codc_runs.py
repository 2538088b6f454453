"""CODC runs as ODC's do: a resumed run ends in the state of an
uninterrupted one (every member's weights and memory), and 2 gloo
processes give the memories of 1 process with the same global batch."""
import os
import os.path as osp

import pytest
import torch
from conftest import shrink_config
from mmengine.config import Config
from test_codc import CODC_FMNIST
from test_odc_distributed import banks, launch

from mmodc.models.utils import read_state_dict

# they start training processes (-m "not slow" leaves them out)
pytestmark = pytest.mark.slow

MEMORY_BUFFERS = ('label_bank', 'feature_bank', 'centroids',
                  'class_weights')


def tiny_codc(work_dir: str, batch_size: int) -> Config:
    """The Fashion-MNIST CODC config on 80 images and 5 clusters, without
    the monitor."""
    cfg = shrink_config(Config.fromfile(CODC_FMNIST), num_images=80,
                        num_clusters=5, batch_size=batch_size,
                        work_dir=work_dir)
    cfg.custom_hooks = [hook for hook in cfg.custom_hooks
                        if hook.type != 'FeatureMonitorHook']
    cfg.default_hooks.logger.interval = 1
    return cfg


def test_a_resumed_codc_run_ends_as_an_uninterrupted_one(quickstart_cfg,
                                                         tmp_path):
    whole, split = str(tmp_path / 'whole'), str(tmp_path / 'split')
    launch(tiny_codc(whole, 20), whole, 1, '--cfg-options',
           'train_cfg.max_epochs=2')
    launch(tiny_codc(split, 20), split, 1, '--cfg-options',
           'train_cfg.max_epochs=1')
    halfway = read_state_dict(osp.join(split, 'epoch_1.pth'))
    launch(tiny_codc(split, 20), split, 1, '--resume', '--cfg-options',
           'train_cfg.max_epochs=2')

    expected = read_state_dict(osp.join(whole, 'epoch_2.pth'))
    resumed = read_state_dict(osp.join(split, 'epoch_2.pth'))
    assert set(resumed) == set(expected)
    for member in ('clustering', 'rotation'):
        prefix = f'members.{member}.memory_bank.'
        # the second epoch moved every memory
        assert not torch.equal(halfway[prefix + 'feature_bank'],
                               expected[prefix + 'feature_bank'])
        assert torch.equal(resumed[prefix + 'label_bank'],
                           expected[prefix + 'label_bank'])
    for key, value in expected.items():
        torch.testing.assert_close(resumed[key], value, atol=1e-6, rtol=0,
                                   msg=key)
    # one clustering of each memory, before the first epoch only
    assert sorted(name for name in os.listdir(split)
                  if name.startswith('cluster_')) == [
                      'cluster_epoch_0_clustering.npy',
                      'cluster_epoch_0_rotation.npy'
                  ]


def non_interacting_codc(work_dir: str, batch_size: int) -> Config:
    """:func:`tiny_codc` whose samples do not interact within a batch
    (frozen BatchNorm, no BatchNorm in the necks, no augmentation), in a
    fixed order, every rank dumping its memories after every iteration."""
    cfg = tiny_codc(work_dir, batch_size)
    for member in cfg.model.members.values():
        member.backbone.norm_eval = True
        member.neck.norm_cfg = None
    cfg.model.data_preprocessor.augment = None
    cfg.train_dataloader.sampler.shuffle = False
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=3)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    cfg.custom_hooks.append(dict(type='MemoryDumpHook'))
    cfg.custom_imports = dict(imports=['memory_dump_hook'])
    return cfg


def test_two_processes_give_the_memories_of_one(quickstart_cfg, tmp_path):
    two, one = str(tmp_path / 'two'), str(tmp_path / 'one')
    launch(non_interacting_codc(two, 10), two, processes=2)
    launch(non_interacting_codc(one, 20), one, processes=1)
    for iteration in (1, 3):
        rank0, rank1 = banks(two, 0, iteration), banks(two, 1, iteration)
        single = banks(one, 0, iteration)
        for member in ('clustering', 'rotation'):
            for buffer in MEMORY_BUFFERS:
                key = f'{member}.{buffer}'
                assert torch.equal(rank0[key], rank1[key]), key
                torch.testing.assert_close(rank0[key], single[key],
                                           atol=1e-5, rtol=0, msg=key)
    # both memories took the 20 images of every global batch
    first, last = banks(one, 0, 1), banks(one, 0, 3)
    for member in ('clustering', 'rotation'):
        changed = (first[f'{member}.feature_bank'] !=
                   last[f'{member}.feature_bank']).any(dim=1)
        assert int(changed.sum()) == 40, member
