"""ODC's memory split across the ranks of a distributed run."""
from typing import Tuple

import torch
import torch.distributed as torch_dist
from mmengine.dist import get_rank, get_world_size

from mmodc.clustering import split_in_two
from mmodc.registry import MODELS
from mmodc.utils import all_gather_cat, is_distributed
from .odc_memory import ODCMemory


def all_reduce_sum_(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over the ranks in place (a no-op in one process)."""
    if is_distributed():
        torch_dist.all_reduce(tensor)
    return tensor


@MODELS.register_module()
class ShardedODCMemory(ODCMemory):
    """:class:`ODCMemory` whose feature and label banks are split across
    the ranks: rank ``r`` of ``W`` holds the rows of samples
    ``r, r + W, r + 2W, ...`` (strided, so the shards differ by at most one
    row, a dataset sorted by class or folder spreads every cluster over
    all ranks, and re-sharding for another ``W`` is a gather by index).
    Centroids, per-cluster sums and counts and the class weights stay
    replicated.

    Each iteration sends ``O(B d + K)`` bytes, never ``O(N)``: the batch of
    all ranks is gathered as in :class:`ODCMemory`, the owners send the old
    rows of the batch's samples (one sum-reduction), and every rank then
    makes the same update of the replicated statistics and writes its own
    rows. The labels, features and statistics equal those of the replicated
    memory (the per-cluster sums up to float64 rounding of the reductions).
    The small-cluster pass moves the members of small clusters on each rank
    and shares only the moves; the 2-means split of the largest cluster
    gathers that cluster's members (``O(N / K)`` rows).

    The initial clustering (``DeepClusterHook(init_memory=True)``) needs no
    rank to hold the whole feature matrix: each rank extracts its own rows
    and :func:`mmodc.clustering.sampled_kmeans` trains on a sample
    (:meth:`init_memory_local`).

    Not yet (issue 15): checkpoints of the shards (:class:`ODCHook` refuses
    a multi-process run with a checkpoint hook instead of letting MMEngine
    write rank 0's shard only), re-clustering
    (``ODCHook(recluster_interval)``), PCA before the initial k-means.

    Args:
        length (int): Number of samples ``N``.
        feat_dim (int): Feature dimension ``d``.
        momentum (float): See :class:`ODCMemory`. Defaults to 0.5.
        num_classes (int): ``K``. Defaults to 10000.
        min_cluster (int): See :class:`ODCMemory`. Defaults to 20.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 length: int,
                 feat_dim: int,
                 momentum: float = 0.5,
                 num_classes: int = 10000,
                 min_cluster: int = 20,
                 init_cfg=None) -> None:
        self.rank, self.world_size = get_rank(), get_world_size()
        super().__init__(length, feat_dim, momentum, num_classes,
                         min_cluster, init_cfg)
        local = len(range(self.rank, length, self.world_size))
        self.feature_bank = torch.zeros(local, feat_dim)
        self.label_bank = torch.zeros(local, dtype=torch.long)

    # ------------------------------------------------------------- layout
    def _owned(self, idx: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Which of the global indices ``idx`` this rank holds, and their
        local rows."""
        mine = idx % self.world_size == self.rank
        return mine, idx[mine] // self.world_size

    def _global_indices(self) -> torch.Tensor:
        """The global index of each local row."""
        return torch.arange(self.rank, self.length, self.world_size,
                            device=self.label_bank.device)

    def _from_owners(self, idx: torch.Tensor,
                     bank: torch.Tensor) -> torch.Tensor:
        """Rows ``idx`` (global, the same on every rank) of a sharded bank,
        sent by their owners to every rank."""
        mine, rows = self._owned(idx)
        values = bank.new_zeros((idx.shape[0], ) + bank.shape[1:])
        values[mine] = bank[rows]
        return all_reduce_sum_(values)

    def labels_of(self, idx: torch.Tensor) -> torch.Tensor:
        """Labels of this rank's batch (its owners answer; a collective:
        every rank calls it with its own batch).

        Args:
            idx (torch.Tensor): Global indices of the local batch.

        Returns:
            torch.Tensor: Their labels.
        """
        counts = [torch.tensor([0])] * self.world_size
        all_idx = all_gather_cat(idx.to(self.label_bank.device))
        if is_distributed():
            size = torch.tensor([idx.shape[0]], device=all_idx.device)
            counts = [torch.empty_like(size) for _ in range(self.world_size)]
            torch_dist.all_gather(counts, size)
        start = int(sum(int(count) for count in counts[:self.rank]))
        labels = self._from_owners(all_idx, self.label_bank)
        return labels[start:start + idx.shape[0]]

    def gather_labels(self) -> torch.Tensor:
        """The whole label bank in index order on every rank (``O(N)``:
        for epoch-end reports, not for the training step).

        Returns:
            torch.Tensor: ``N`` labels.
        """
        labels = all_gather_cat(self.label_bank)
        order = all_gather_cat(self._global_indices())
        full = torch.empty_like(labels)
        full[order] = labels
        return full

    # --------------------------------------------------------------- init
    def init_memory(self, features: torch.Tensor,
                    labels: torch.Tensor) -> None:
        """Keep this rank's rows of a clustering of the whole training set.

        Args:
            features (torch.Tensor): ``N x d`` features (every rank holds
                them after the extraction).
            labels (torch.Tensor): ``N`` cluster ids in ``[0, K)``.
        """
        labels = torch.as_tensor(labels).long()
        self._check_init(features, labels)
        rows = slice(self.rank, self.length, self.world_size)
        self._fill_banks(features[rows], labels[rows])

    def init_memory_local(self, features: torch.Tensor,
                          labels: torch.Tensor) -> None:
        """Fill this rank's rows from its own features and labels (no
        rank holds the whole training set: see
        :func:`mmodc.clustering.sampled_kmeans`).

        Args:
            features (torch.Tensor): ``n x d`` features of this rank's
                samples ``rank, rank + W, ...`` in that order.
            labels (torch.Tensor): Their ``n`` cluster ids.
        """
        labels = torch.as_tensor(labels).long()
        rows = self.feature_bank.shape[0]
        if tuple(features.shape) != (rows, self.feat_dim) or \
                labels.shape != (rows, ):
            raise ValueError(
                f'ShardedODCMemory.init_memory_local: rank {self.rank} holds '
                f'{rows} samples of dimension {self.feat_dim}, got features '
                f'{tuple(features.shape)} and labels {tuple(labels.shape)}.')
        if labels.numel() and (int(labels.min()) < 0
                               or int(labels.max()) >= self.num_classes):
            raise ValueError(
                'ShardedODCMemory.init_memory_local: labels outside '
                f'[0, num_classes={self.num_classes}).')
        self._fill_banks(features, labels)

    def shard_indices(self) -> torch.Tensor:
        """The global index of each of this rank's rows.

        Returns:
            torch.Tensor: ``rank, rank + W, ...``.
        """
        return self._global_indices()

    def recompute_cluster_statistics(self) -> None:
        """Per-cluster sums and counts of the local rows, summed over the
        ranks."""
        super().recompute_cluster_statistics()
        all_reduce_sum_(self.cluster_sums)
        all_reduce_sum_(self.cluster_counts)

    # ----------------------------------------------------------- per batch
    def update_samples_memory(self, idx: torch.Tensor,
                              features: torch.Tensor) -> torch.Tensor:
        """As :meth:`ODCMemory.update_samples_memory`; the old rows come
        from their owners and each rank writes its own rows.

        Args:
            idx (torch.Tensor): Global indices of the local batch (``B``).
            features (torch.Tensor): Local batch features (``B x d``).

        Returns:
            torch.Tensor: The fraction of the batch's distinct samples whose
            label changed.
        """
        idx, features = self._gather_batch(idx, features)
        old_features = self._from_owners(idx, self.feature_bank)
        old_labels = self._from_owners(idx, self.label_bank)
        new_features, new_labels = self._update_rows(
            old_features, old_labels, features)
        mine, rows = self._owned(idx)
        self.feature_bank[rows] = new_features[mine]
        self.label_bank[rows] = new_labels[mine]
        return (new_labels != old_labels).float().mean()

    # ------------------------------------------------------ small clusters
    def _relabel(self, rows: torch.Tensor, features: torch.Tensor,
                 labels: torch.Tensor) -> None:
        """Move local ``rows`` to ``labels``; every rank applies the moves
        of all ranks to the replicated statistics, in index order (as one
        process would)."""
        old_labels = self.label_bank[rows]
        self.label_bank[rows] = labels
        global_idx = all_gather_cat(rows * self.world_size + self.rank)
        order = torch.argsort(global_idx)
        features, old_labels, labels = (
            all_gather_cat(tensor)[order]
            for tensor in (features, old_labels, labels))
        self._move(features, old_labels, features, labels)

    def _split_largest(self, largest: int, cluster: int) -> None:
        """Split the largest cluster, whose members are on every rank, by
        2-means over all of them (in index order, as one process would)."""
        local = (self.label_bank == largest).nonzero().squeeze(1)
        global_idx = all_gather_cat(local * self.world_size + self.rank)
        features = all_gather_cat(self.feature_bank[local])
        order = torch.argsort(global_idx)
        global_idx, features = global_idx[order], features[order]
        in_second = split_in_two(features, min_size=self.min_cluster)
        mine, rows = self._owned(global_idx[in_second])
        self.label_bank[rows] = cluster
        moved = features[in_second]
        self._move(moved, torch.full_like(global_idx[in_second], largest),
                   moved, torch.full_like(global_idx[in_second], cluster))

    # ------------------------------------------------------------- not yet
    def recluster(self, seed: int = 0) -> float:
        """Not available for a sharded memory yet (issue 15)."""
        raise NotImplementedError(
            'ShardedODCMemory cannot re-cluster yet (its k-means would need '
            'the whole bank on one rank): remove recluster_interval from '
            'ODCHook or use ODCMemory.')

    @property
    def saves_in_checkpoints(self) -> bool:
        """Only in one process: MMEngine writes rank 0's state alone, which
        would lose the other shards (saving the shards: issue 15)."""
        return self.world_size == 1
