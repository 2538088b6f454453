"""ODC's memory split across the ranks of a distributed run."""
from typing import Optional, Tuple

import torch
from mmengine.dist import all_reduce, get_rank, get_world_size

from mmodc.clustering import (
    default_sample_size,
    sampled_kmeans,
    sampled_preprocess,
)
from mmodc.registry import MODELS
from mmodc.utils import all_gather_cat
from .odc_memory import ODCMemory


@MODELS.register_module()
class ShardedODCMemory(ODCMemory):
    """:class:`ODCMemory` whose feature and label banks are split across
    the ranks: rank ``r`` of ``W`` holds the rows of samples
    ``r, r + W, r + 2W, ...`` (strided, so the shards differ by at most one
    row, a dataset sorted by class or folder spreads every cluster over
    all ranks, and re-sharding for another ``W`` is a gather by index).
    Centroids, per-cluster sums and counts and the class weights stay
    replicated.

    Only the row access of :class:`ODCMemory` differs (its ``_read_rows``,
    ``_write_rows``, ``_local_rows``, ``_in_index_order``), so each
    iteration sends ``O(B d + K)`` bytes, never ``O(N)``: the batch of all
    ranks is gathered as in :class:`ODCMemory`, the owners send the old
    rows of the batch's samples (one sum-reduction), and every rank then
    makes the same update of the replicated statistics and writes its own
    rows. The labels, features and statistics equal those of the replicated
    memory (the per-cluster sums up to float64 rounding of the reductions).
    The small-cluster pass moves the members of small clusters on each rank
    and shares only the moves; the 2-means split of the largest cluster
    gathers that cluster's members (``O(N / K)`` rows).

    The initial clustering (``DeepClusterHook(init_memory=True)``) needs no
    rank to hold the whole feature matrix: each rank extracts its own rows
    and PCA (if any) and :func:`mmodc.clustering.sampled_kmeans` are
    fitted on a sample (:meth:`init_memory_local`).

    Checkpoints: every rank writes its rows to a shard file beside the
    checkpoint, and a resume with any number of processes takes its rows
    from them (:mod:`mmodc.models.utils.memory_shards`, through
    :class:`SafeCheckpointHook`). Re-clustering
    (``ODCHook(recluster_interval)``) trains k-means on a sample of the banks
    (:func:`mmodc.clustering.sampled_kmeans`); each rank assigns its rows
    and only the ``K x K`` contingency table with the old labels is
    summed over the ranks for the renumbering.

    Args:
        length (int): Number of samples ``N``.
        feat_dim (int): Feature dimension ``d``.
        momentum (float): See :class:`ODCMemory`. Defaults to 0.5.
        num_classes (int): ``K``. Defaults to 10000.
        min_cluster (int): See :class:`ODCMemory`. Defaults to 20.
        feature_dtype (str): See :class:`ODCMemory`. Defaults to
            ``'float32'``.
        recluster_sample_size (int, optional): Rows k-means trains on when
            re-clustering. Defaults to :func:`mmodc.clustering.
            default_sample_size` (``256 K``).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 *args,
                 recluster_sample_size: Optional[int] = None,
                 **kwargs) -> None:
        self.rank, self.world_size = get_rank(), get_world_size()
        self.recluster_sample_size = recluster_sample_size
        super().__init__(*args, **kwargs)

    def _rows_held(self, length: int) -> int:
        """Rows ``rank, rank + W, ...`` only: no rank allocates the whole
        bank."""
        return len(range(self.rank, length, self.world_size))

    # ---------------------------------------------------------- row access
    def _owned(self, idx: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Which of the dataset indices ``idx`` this rank holds, and their
        local rows."""
        mine = idx % self.world_size == self.rank
        return mine, idx[mine] // self.world_size

    def _read_rows(self, bank: torch.Tensor,
                   idx: torch.Tensor) -> torch.Tensor:
        """Rows ``idx`` (the same on every rank), sent by their owners to
        every rank (one sum-reduction)."""
        mine, rows = self._owned(idx)
        values = bank.new_zeros((idx.shape[0], ) + bank.shape[1:])
        values[mine] = bank[rows]
        all_reduce(values)
        return values

    def _write_rows(self, bank: torch.Tensor, idx: torch.Tensor,
                    values: torch.Tensor) -> None:
        """Each rank writes the rows it holds."""
        mine, rows = self._owned(idx)
        bank[rows] = values[mine].to(bank.dtype)

    def _local_rows(self, idx: torch.Tensor) -> torch.Tensor:
        return self._owned(idx)[1]

    def _in_index_order(self, rows: torch.Tensor, *tensors: torch.Tensor
                        ) -> Tuple[torch.Tensor, ...]:
        global_idx = all_gather_cat(rows * self.world_size + self.rank)
        order = torch.argsort(global_idx)
        return (global_idx[order],
                *(all_gather_cat(tensor)[order] for tensor in tensors))

    is_sharded = True

    def local_indices(self) -> torch.Tensor:
        """The dataset index of each of this rank's rows.

        Returns:
            torch.Tensor: ``rank, rank + W, ...``.
        """
        return torch.arange(self.rank, self.length, self.world_size,
                            device=self.label_bank.device)

    def labels_of(self, idx: torch.Tensor) -> torch.Tensor:
        """Labels of this rank's batch (its owners answer; a collective:
        every rank calls it with its own batch).

        Args:
            idx (torch.Tensor): Dataset indices of the local batch.

        Returns:
            torch.Tensor: Their labels.
        """
        all_idx = all_gather_cat(idx.to(self.label_bank.device))
        sizes = all_gather_cat(
            torch.tensor([idx.shape[0]], device=all_idx.device))
        start = int(sizes[:self.rank].sum())
        return self._read_rows(self.label_bank,
                               all_idx)[start:start + idx.shape[0]]

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
        self._check_init(features, labels, self.length)
        rows = slice(self.rank, self.length, self.world_size)
        self._fill_banks(features[rows], labels[rows])

    def init_memory_local(self, features: torch.Tensor,
                          labels: torch.Tensor) -> None:
        """Fill this rank's rows from its own features and labels (no
        rank holds the whole training set: see
        :func:`mmodc.clustering.sampled_kmeans`).

        Args:
            features (torch.Tensor): ``n x d`` features of this rank's
                samples (:meth:`local_indices`), in that order.
            labels (torch.Tensor): Their ``n`` cluster ids.
        """
        labels = torch.as_tensor(labels).long()
        self._check_init(features, labels, self.feature_bank.shape[0])
        self._fill_banks(features, labels)

    def _kmeans_of_bank(self, seed: int, pca_dim: int) -> torch.Tensor:
        """k-means trained on a sample of the banks of every rank
        (``recluster_sample_size`` rows; the whitened PCA, if ``pca_dim >
        0``, fitted on the same sample), each rank assigning its own."""
        indices = self.local_indices()
        sample_size = (self.recluster_sample_size
                       or default_sample_size(self.num_classes))
        features = self.feature_bank
        if pca_dim > 0:
            features = sampled_preprocess(features, indices, pca_dim,
                                          sample_size, seed=seed)
        return sampled_kmeans(features, indices, self.num_classes,
                              sample_size, seed=seed)[0]

    def _summed_over_ranks(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum of a count over the ranks' rows (in place)."""
        all_reduce(tensor)
        return tensor
