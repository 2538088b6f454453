"""DeepCluster with two processes (torch.distributed, gloo) through
tools/dist_train.sh: every rank gets the same labels, class weights and
re-initialised head, the ranks share one uniform-over-clusters draw, and the
result equals a one-process run with the same global batch; with
clustering.sampled (no rank holding every feature) the clustering on a
sample of all rows is that of the whole matrix on rank 0."""
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import shrink_config
from mmengine.config import Config
from test_deepcluster import DEEPCLUSTER_FMNIST
from test_odc_distributed import launch, with_frozen_bn_and_dumps

from mmodc.evaluation import normalized_mutual_info

# they start training processes (-m "not slow" leaves them out)
pytestmark = pytest.mark.slow

NUM_EPOCHS = 2


def deterministic_cfg(batch_size: int, work_dir: str) -> Config:
    """Samples that do not interact within a batch (frozen BN statistics),
    no random augmentation."""
    cfg = with_frozen_bn_and_dumps(
        shrink_config(
            Config.fromfile(DEEPCLUSTER_FMNIST), num_images=160,
            num_clusters=8, batch_size=batch_size, work_dir=work_dir),
        'ClusteringDumpHook')
    cfg.custom_hooks[0].clustering.pca_dim = 16
    cfg.model.data_preprocessor.augment = None
    cfg.train_cfg.max_epochs = NUM_EPOCHS
    return cfg


def dump(work_dir: str, rank: int, epoch: int) -> dict:
    return torch.load(
        osp.join(work_dir, f'rank{rank}_epoch{epoch}.pt'), weights_only=True)


def test_two_processes_agree_and_match_one_process(tmp_path):
    two, one = str(tmp_path / 'two'), str(tmp_path / 'one')
    launch(deterministic_cfg(10, two), two, processes=2)
    launch(deterministic_cfg(20, one), one, processes=1)
    sampled = str(tmp_path / 'sampled')
    cfg = deterministic_cfg(10, sampled)
    cfg.custom_hooks[0].clustering.update(sampled=True, sample_size=160)
    launch(cfg, sampled, processes=2)

    for epoch in range(NUM_EPOCHS):
        rank0, rank1 = dump(two, 0, epoch), dump(two, 1, epoch)
        for name in ('labels', 'class_weights', 'head.fc_cls.weight',
                     'head.fc_cls.bias'):
            assert torch.equal(rank0[name], rank1[name]), (name, epoch)
        both = torch.stack([rank0['indices'], rank1['indices']], 1)
        # uniform over clusters: every non-empty cluster drawn, none more
        # than 160 // (non-empty clusters) + 1 times
        non_empty = torch.bincount(rank0['labels'], minlength=8) > 0
        drawn = torch.bincount(rank0['labels'][both.flatten()], minlength=8)
        assert torch.equal(drawn > 0, non_empty)
        assert drawn.max() <= 160 // non_empty.sum() + 1
    # before training the features are the same: the same clustering, and
    # the ranks take alternate indices of the 1-process draw
    first_two, first_one = dump(two, 0, 0), dump(one, 0, 0)
    assert torch.equal(first_two['labels'], first_one['labels'])
    alternate = torch.stack(
        [first_two['indices'], dump(two, 1, 0)['indices']], 1).flatten()
    assert torch.equal(alternate, first_one['indices'])
    # after an epoch, gradients averaged over 2 x 10 samples equal those of
    # the 20-sample batch up to float rounding: (nearly) the same clustering
    after = [dump(run, 0, 1)['labels'].numpy() for run in (two, one)]
    assert normalized_mutual_info(*after) > 0.95
    # the head was re-initialised from the same seed in both runs
    torch.testing.assert_close(
        dump(two, 0, 1)['head.fc_cls.weight'],
        dump(one, 0, 1)['head.fc_cls.weight'])
    assert not np.array_equal(after[0], dump(two, 0, 0)['labels'].numpy())
    # the sampled path (PCA and k-means fitted on a sample of all 160 rows,
    # gathered in index order; each rank projects and assigns its own)
    # clusters as rank 0 does with the whole matrix, on both ranks, before
    # and after an epoch (the PCA's rounding differs: NMI, not identity)
    for epoch in range(NUM_EPOCHS):
        labels = dump(sampled, 0, epoch)['labels']
        assert torch.equal(labels, dump(sampled, 1, epoch)['labels'])
        assert normalized_mutual_info(
            labels.numpy(), dump(two, 0, epoch)['labels'].numpy()) > 0.99
