"""DeepClusterSampler: seeded draws, uniform sampling over clusters, ranks."""
import random

import numpy as np
import pytest
import torch

from mmodc.datasets import DeepClusterSampler

DATASET = list(range(1000))
# cluster 0 is big, 1 medium, 2 empty, 3 tiny
LABELS = torch.cat([
    torch.zeros(900), torch.ones(90), torch.full((10, ), 3)]).long()


def test_replacement_is_seeded_by_epoch_not_global_state():
    sampler = DeepClusterSampler(DATASET, seed=3, replace=True)
    first = list(sampler)
    torch.manual_seed(123), np.random.seed(5), random.seed(7)
    assert list(sampler) == first
    assert len(set(first)) < 700  # with replacement: repeats
    sampler.set_epoch(1)
    assert list(sampler) != first


def test_uniform_over_non_empty_clusters():
    sampler = DeepClusterSampler(DATASET, seed=0)
    sampler.set_uniform_indices(LABELS, num_clusters=5)
    indices = torch.tensor(list(sampler))
    assert len(indices) == 1000
    per_cluster = torch.bincount(LABELS[indices], minlength=5)
    assert per_cluster[2] == 0 and per_cluster[4] == 0
    # 1000 // 3 + 1 = 334 from each non-empty cluster, cut to 1000
    assert per_cluster[[0, 1, 3]].min() >= 330
    big = indices[LABELS[indices] == 0]
    assert len(set(big.tolist())) == len(big)  # no repeats where possible
    assert set(indices[LABELS[indices] == 3].tolist()) == set(range(990, 1000))


def test_ranks_split_one_draw(monkeypatch):
    single = DeepClusterSampler(list(range(11)), seed=0, replace=True)
    draw = list(single) + list(single)[:1]
    shares = []
    for rank in range(2):
        monkeypatch.setattr(
            'mmodc.datasets.samplers.deepcluster_sampler.DefaultSampler'
            '.__init__', _fake_dist_init(rank))
        sampler = DeepClusterSampler(list(range(11)), seed=0, replace=True)
        shares.append(list(sampler))
    assert len(shares[0]) == len(shares[1]) == 6
    assert shares[0] == draw[0::2] and shares[1] == draw[1::2]


def _fake_dist_init(rank):
    """DefaultSampler's constructor as rank ``rank`` of 2 processes."""
    def init(self, dataset, shuffle=True, seed=None, round_up=True):
        self.rank, self.world_size = rank, 2
        self.dataset, self.shuffle, self.seed = dataset, shuffle, seed
        self.epoch, self.round_up = 0, round_up
        self.num_samples = -(-len(dataset) // 2)
        self.total_size = self.num_samples * 2
    return init


def test_bad_labels_are_refused():
    sampler = DeepClusterSampler(DATASET, seed=0)
    with pytest.raises(ValueError, match='999 cluster labels for a dataset '
                       'of 1000'):
        sampler.set_uniform_indices(LABELS[:999], 5)
    with pytest.raises(ValueError, match=r'outside \[0, 3\)'):
        sampler.set_uniform_indices(LABELS, 3)
