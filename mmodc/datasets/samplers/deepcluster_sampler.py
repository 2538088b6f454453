"""Sampler of DeepCluster and ODC: with replacement, or uniform over
clusters."""
from typing import Iterator, Optional, Sized

import torch
from mmengine.dataset import DefaultSampler

from mmodc.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class DeepClusterSampler(DefaultSampler):
    """A distributed-aware sampler drawing with replacement or uniformly over
    clusters.

    Each epoch draws ``len(dataset)`` indices (rounded up to the world size
    like :class:`DefaultSampler`) and gives every rank its share. The draw
    uses its own generator seeded with ``seed + epoch`` (never numpy's or
    torch's global state), so all ranks agree and a resumed run repeats it.

    - ``replace=True``: indices drawn uniformly with replacement (ODC).
    - after :meth:`set_uniform_indices`: every non-empty cluster contributes
      the same number of samples, ``N // (non-empty clusters) + 1``, drawn
      without replacement from clusters that large and with replacement
      from smaller ones, then shuffled and cut to ``N`` (DeepCluster).
    - otherwise: a permutation, as :class:`DefaultSampler` with shuffle.

    Args:
        dataset (Sized): The dataset.
        shuffle (bool): Shuffle (without replacement) when neither of the
            above applies. Defaults to True.
        seed (int, optional): Seed shared by all ranks; a random one is
            synchronised when None.
        round_up (bool): Pad so that every rank gets as many indices.
        replace (bool): Draw with replacement. Defaults to False.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True,
                 replace: bool = False) -> None:
        super().__init__(dataset, shuffle, seed, round_up)
        self.replace = replace
        self.cluster_labels = None

    def set_uniform_indices(self, labels: torch.Tensor,
                            num_clusters: int) -> None:
        """Sample uniformly over the clusters of ``labels`` from now on.

        Args:
            labels (torch.Tensor): Cluster id of every dataset sample.
            num_clusters (int): Number of clusters ``k``.
        """
        labels = torch.as_tensor(labels).long().cpu()
        if labels.shape != (len(self.dataset), ):
            raise ValueError(
                f'DeepClusterSampler: {labels.numel()} cluster labels for a '
                f'dataset of {len(self.dataset)} samples.')
        if labels.numel() and (labels.min() < 0
                               or labels.max() >= num_clusters):
            raise ValueError(
                'DeepClusterSampler: cluster labels outside '
                f'[0, {num_clusters}).')
        self.cluster_labels = labels
        self.num_clusters = num_clusters

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        size = len(self.dataset)
        if self.cluster_labels is not None:
            indices = self._uniform_over_clusters(generator)
        elif self.replace:
            indices = torch.randint(size, (size, ), generator=generator)
        elif self.shuffle:
            indices = torch.randperm(size, generator=generator)
        else:
            indices = torch.arange(size)
        if self.round_up:
            repeats = self.total_size // size + 1
            indices = indices.repeat(repeats)[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.world_size]
                    .tolist())

    def _uniform_over_clusters(self,
                               generator: torch.Generator) -> torch.Tensor:
        """``N`` indices with (nearly) the same count from every cluster."""
        labels, size = self.cluster_labels, len(self.dataset)
        counts = torch.bincount(labels, minlength=self.num_clusters)
        clusters = counts.nonzero().squeeze(1)
        per_cluster = size // clusters.numel() + 1
        # members grouped by cluster, in random order within each cluster
        keys = labels.double() + torch.rand(size, generator=generator,
                                             dtype=torch.double) * 0.5
        members = keys.argsort()
        starts = counts.cumsum(0) - counts
        sizes = counts[clusters].unsqueeze(1)
        draws = torch.arange(per_cluster).expand(clusters.numel(), -1)
        with_replacement = (torch.rand(
            draws.shape, generator=generator, dtype=torch.double) *
                            sizes).long()
        offsets = torch.where(sizes > per_cluster, draws, with_replacement)
        chosen = members[(starts[clusters].unsqueeze(1) + offsets).flatten()]
        order = torch.randperm(chosen.numel(), generator=generator)
        return chosen[order][:size]
