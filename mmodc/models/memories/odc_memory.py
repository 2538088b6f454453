"""Sample and centroid memory of Online Deep Clustering."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import is_main_process
from mmengine.model import BaseModule

from mmodc.clustering import (
    contingency_table,
    kmeans,
    preprocess_features,
    renumbering,
    split_in_two,
)
from mmodc.registry import MODELS
from mmodc.utils import all_gather_cat, broadcast_, current_iteration
from mmodc.utils.sizes import require_resolved
from ..losses import cluster_class_weights

#: Most similarity scores (rows x centroids) computed at once on the CPU
#: (32 MiB): a training batch is scored in one matmul, and the memory of
#: scoring many rows (members of dissolved clusters) stays bounded.
CPU_SCORE_BLOCK = 1 << 23
#: The same on GPUs (256 MiB).
GPU_SCORE_BLOCK = 1 << 26
#: Rows per chunk of the passes over the whole bank (initialisation).
BANK_CHUNK = 1 << 15
#: Width of the column groups of the CPU row argmax (see ``row_argmax``).
ARGMAX_GROUP = 128


def row_argmax(scores: torch.Tensor) -> torch.Tensor:
    """``scores.argmax(dim=1)`` (the first column on ties), faster on CPUs.

    PyTorch's CPU argmax is a scalar loop; ``amax`` is vectorised. So on
    the CPU the maximum of each group of ``ARGMAX_GROUP`` columns is found
    first, then the argmax within the first group that holds the row's
    maximum (and within the last, shorter group of columns if it wins).

    Args:
        scores (torch.Tensor): ``M x C`` scores without NaN (``-inf``
            is fine).

    Returns:
        torch.Tensor: ``M`` column indices.
    """
    rows, cols = scores.shape
    group = ARGMAX_GROUP
    num_groups = cols // group
    if scores.device.type != 'cpu' or num_groups < 2:
        return scores.argmax(dim=1)
    full = num_groups * group
    grouped = scores[:, :full].view(rows, num_groups, group)
    group_max = grouped.amax(dim=2)
    best = group_max.argmax(dim=1)
    within = grouped.gather(
        1, best.view(rows, 1, 1).expand(rows, 1, group)).squeeze(1)
    label = best * group + within.argmax(dim=1)
    if full < cols:
        tail_score, tail_label = scores[:, full:].max(dim=1)
        head_score = group_max.gather(1, best.unsqueeze(1)).squeeze(1)
        label = torch.where(tail_score > head_score, tail_label + full,
                            label)
    return label


#: The feature bank types :class:`ODCMemory` takes.
BANK_DTYPES = ('float32', 'float16', 'bfloat16')


def bank_dtype(name: str) -> torch.dtype:
    """The torch type of a feature bank type name.

    Args:
        name (str): One of :data:`BANK_DTYPES`.

    Returns:
        torch.dtype: The type.
    """
    if name not in BANK_DTYPES:
        raise ValueError(
            f'ODCMemory: feature_dtype={name!r} is not one of {BANK_DTYPES}; '
            "set model.memory_bank.feature_dtype to 'float32' or a half "
            "type ('float16', 'bfloat16').")
    return getattr(torch, name)


@MODELS.register_module()
class ODCMemory(BaseModule):
    """Memory of ODC: a feature and a pseudo-label for every training sample,
    and one centroid per cluster.

    Every rank holds the full memory and applies the same deterministic
    updates to it, so the banks stay identical across ranks without
    broadcasting them. Per-cluster feature sums and sample counts are kept up
    to date as samples move between clusters, so recomputing the centroids
    costs ``O(K d)`` instead of a pass over the whole bank, and nothing in a
    training iteration reads the whole bank unless some cluster is below
    ``min_cluster``.

    All state is made of registered buffers: it is saved in every checkpoint
    and restored exactly on resume.

    Args:
        length (int): Number of samples ``N`` (the training set's length).
        feat_dim (int): Feature dimension ``d``.
        momentum (float): Weight ``m`` of the new feature in the update
            ``normalise((1 - m) * bank + m * feature)`` (the new feature
            where the two cancel out). Defaults to 0.5.
        num_classes (int): Number of clusters ``K``. Defaults to 10000.
        min_cluster (int): Clusters with fewer samples are dissolved by
            :meth:`deal_with_small_clusters`. Defaults to 20.
        feature_dtype (str): Type of the feature bank: ``'float32'``, or
            ``'float16'`` / ``'bfloat16'`` for half its memory (the
            features are computed in float32 and rounded when stored; the
            per-cluster sums add the stored values). Defaults to
            ``'float32'``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 length: int,
                 feat_dim: int,
                 momentum: float = 0.5,
                 num_classes: int = 10000,
                 min_cluster: int = 20,
                 feature_dtype: str = 'float32',
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        self._check_sizes(length, num_classes, min_cluster)
        self.feature_dtype = bank_dtype(feature_dtype)
        self.length = length
        self.feat_dim = feat_dim
        self.momentum = momentum
        self.num_classes = num_classes
        self.min_cluster = min_cluster
        rows = self._rows_held(length)
        self.register_buffer(
            'feature_bank',
            torch.zeros(rows, feat_dim, dtype=self.feature_dtype))
        self.register_buffer('label_bank',
                             torch.zeros(rows, dtype=torch.long))
        self.register_buffer('centroids', torch.zeros(num_classes, feat_dim))
        self.register_buffer(
            'cluster_sums',
            torch.zeros(num_classes, feat_dim, dtype=torch.float64))
        self.register_buffer('cluster_counts',
                             torch.zeros(num_classes, dtype=torch.long))
        self.register_buffer('class_weights',
                             torch.full((num_classes, ), 1. / num_classes))
        self.register_buffer('initialized', torch.tensor(False))

    @staticmethod
    def _check_sizes(length: int, num_classes: int, min_cluster: int) -> None:
        """Refuse a memory whose clusters cannot all reach ``min_cluster``."""
        require_resolved(length, 'model.memory_bank.length')
        require_resolved(num_classes, 'model.memory_bank.num_classes')
        if num_classes > length:
            raise ValueError(
                f'ODCMemory: num_classes={num_classes} is larger than the '
                f'number of samples length={length}; choose num_classes <= '
                f'{length}.')
        if num_classes * min_cluster > length:
            raise ValueError(
                f'ODCMemory: num_classes * min_cluster = {num_classes} * '
                f'{min_cluster} > length={length}, so some cluster would '
                'always be below min_cluster; lower num_classes or '
                'min_cluster.')

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Refuse banks of another length or K before loading (a resume
        with ``strict=False`` would otherwise skip them and keep zeros), and
        a filled memory whose banks are not in the state dict (a checkpoint
        of a sharded memory read without its shard files)."""
        if (prefix + 'feature_bank' not in state_dict
                and bool(state_dict.get(prefix + 'initialized', False))):
            raise ValueError(
                f'The checkpoint holds a filled ODC memory ({prefix}) '
                'without its banks: they are in the shard files of a '
                'sharded memory (meta memory_shards). Load it with '
                "default_hooks.checkpoint.type='SafeCheckpointHook' in the "
                'config, or read it with mmodc.models.utils.read_state_dict.')
        for name, size in (('feature_bank', self.feature_bank.shape[0]),
                           ('centroids', self.num_classes)):
            saved = state_dict.get(prefix + name)
            if saved is not None and saved.shape[0] != size:
                what = 'samples' if name == 'feature_bank' else 'clusters'
                raise ValueError(
                    f'The checkpoint\'s ODC memory holds {saved.shape[0]} '
                    f'{what} ({prefix}{name}) but this model\'s has {size} '
                    f'({self.length} training images and '
                    f'{self.num_classes} clusters by the config): the data '
                    'or K changed since the checkpoint; resume with the '
                    'same data and K, or start a new run.')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    #: Whether the banks are split over the ranks (see ShardedODCMemory).
    is_sharded = False

    def _rows_held(self, length: int) -> int:
        """How many of the ``length`` samples' bank rows this rank holds
        (all of them here)."""
        return length

    def local_indices(self) -> torch.Tensor:
        """The dataset index of each row this rank holds.

        Returns:
            torch.Tensor: ``0, 1, ..., N - 1`` (every rank holds all rows).
        """
        return torch.arange(self.feature_bank.shape[0],
                            device=self.label_bank.device)

    # ------------------------------------------------------------------ init
    def init_memory(self, features: torch.Tensor,
                    labels: torch.Tensor) -> None:
        """Fill the memory from a clustering of the whole training set.

        Args:
            features (torch.Tensor): ``N x d`` features, row ``i`` of sample
                ``i``; they are L2-normalised here (chunk by chunk, so no
                second ``N x d`` copy is made).
            labels (torch.Tensor): ``N`` cluster ids in ``[0, K)``.
        """
        labels = torch.as_tensor(labels).long()
        self._check_init(features, labels, self.length)
        self._fill_banks(features, labels)

    def _check_init(self, features: torch.Tensor, labels: torch.Tensor,
                    rows: int) -> None:
        """Refuse initial features or labels that do not fit ``rows`` rows
        of the memory."""
        if tuple(features.shape) != (rows, self.feat_dim):
            raise ValueError(
                f'ODCMemory.init_memory: features of shape '
                f'{tuple(features.shape)} do not match the memory '
                f'({rows} rows, feat_dim={self.feat_dim}).')
        if labels.shape != (rows, ):
            raise ValueError(
                f'ODCMemory.init_memory: {tuple(labels.shape)} labels for '
                f'a memory of {rows} rows.')
        if labels.numel() and (int(labels.min()) < 0
                               or int(labels.max()) >= self.num_classes):
            raise ValueError(
                f'ODCMemory.init_memory: labels range from '
                f'{int(labels.min())} to {int(labels.max())}, outside '
                f'[0, num_classes={self.num_classes}).')

    def _fill_banks(self, features: torch.Tensor,
                    labels: torch.Tensor) -> None:
        """Normalise ``features`` into the feature bank (chunk by chunk),
        set the labels, then the statistics and centroids."""
        device = self.feature_bank.device
        rows = self.feature_bank.shape[0]
        for start in range(0, rows, BANK_CHUNK):
            chunk = features[start:start + BANK_CHUNK].to(
                device, torch.float32)
            self._check_finite(chunk, 'initial features')
            self.feature_bank[start:start + BANK_CHUNK] = F.normalize(
                chunk, dim=1)
        self.label_bank.copy_(labels.to(device))
        self.recompute_cluster_statistics()
        self.update_centroids()
        self.initialized.fill_(True)

    def recompute_cluster_statistics(self) -> None:
        """Recompute the per-cluster feature sums and counts from the banks
        (of every rank)."""
        self.cluster_sums.zero_()
        rows = self.feature_bank.shape[0]
        for start in range(0, rows, BANK_CHUNK):
            stop = start + BANK_CHUNK
            self.cluster_sums.index_add_(
                0, self.label_bank[start:stop],
                self.feature_bank[start:stop].double())
        self._summed_over_ranks(self.cluster_sums)
        self.cluster_counts.copy_(self._summed_over_ranks(
            torch.bincount(self.label_bank, minlength=self.num_classes)))

    def labels_of(self, idx: torch.Tensor) -> torch.Tensor:
        """The labels of samples ``idx`` (the local batch).

        Args:
            idx (torch.Tensor): Dataset indices.

        Returns:
            torch.Tensor: Their labels.
        """
        return self.label_bank[idx]

    def gather_labels(self) -> torch.Tensor:
        """Every sample's label, in index order.

        Returns:
            torch.Tensor: ``N`` labels.
        """
        rows = torch.arange(self.label_bank.shape[0],
                            device=self.label_bank.device)
        return self._in_index_order(rows, self.label_bank)[1]

    # ---------------------------------------------------------- row access
    # Where the rows of the banks live. Here every rank holds all of them;
    # ShardedODCMemory overrides these four to spread them over the ranks.
    def _read_rows(self, bank: torch.Tensor,
                   idx: torch.Tensor) -> torch.Tensor:
        """Rows ``idx`` (dataset indices, the same on every rank) of a
        bank."""
        return bank[idx]

    def _write_rows(self, bank: torch.Tensor, idx: torch.Tensor,
                    values: torch.Tensor) -> None:
        """Set rows ``idx`` (dataset indices) of a bank to ``values``."""
        bank[idx] = values.to(bank.dtype)

    def _local_rows(self, idx: torch.Tensor) -> torch.Tensor:
        """The bank rows this rank holds of dataset indices ``idx``."""
        return idx

    def _in_index_order(self, rows: torch.Tensor, *tensors: torch.Tensor
                        ) -> Tuple[torch.Tensor, ...]:
        """The dataset indices of local bank ``rows`` and ``tensors`` (one
        row per bank row), from every rank, in index order."""
        return (rows, *tensors)

    # ------------------------------------------------------------ per batch
    def update_samples_memory(self, idx: torch.Tensor,
                              features: torch.Tensor) -> torch.Tensor:
        """Update the bank with a batch and re-assign the batch's labels.

        The batch of every rank is gathered first, so all ranks make the same
        update. When an index occurs several times, its last occurrence wins.

        Args:
            idx (torch.Tensor): Dataset indices of the local batch (``B``).
            features (torch.Tensor): Local batch features (``B x d``).

        Returns:
            torch.Tensor: The fraction of the batch's distinct samples whose
            label changed.
        """
        idx, features = self._gather_batch(idx, features)
        old_features = self._read_rows(self.feature_bank, idx).float()
        old_labels = self._read_rows(self.label_bank, idx)
        new_features = self._as_stored(self._blend(old_features, features))
        new_labels = self.assign(new_features)
        self._move(old_features, old_labels, new_features, new_labels)
        self._write_rows(self.feature_bank, idx, new_features)
        self._write_rows(self.label_bank, idx, new_labels)
        return (new_labels != old_labels).float().mean()

    def _gather_batch(self, idx: torch.Tensor, features: torch.Tensor
                      ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The batch of every rank, unit rows, one row per distinct index
        (its last occurrence)."""
        device = self.feature_bank.device
        idx = all_gather_cat(idx.to(device))
        features = all_gather_cat(features.detach().to(device, torch.float32))
        # normalised after the gather, so that all ranks check the same rows
        # and raise together; a row with NaN or Inf has a non-finite norm
        norms = torch.linalg.vector_norm(features, dim=1, keepdim=True)
        if not torch.isfinite(norms).all():
            self._check_finite(features, 'batch features')
        features = features / norms.clamp(min=1e-12)  # as F.normalize
        return self._last_occurrence(idx, features)

    def _as_stored(self, features: torch.Tensor) -> torch.Tensor:
        """Float32 ``features`` rounded as the feature bank stores them."""
        return features.to(self.feature_dtype).float()

    def _blend(self, old_features: torch.Tensor,
               features: torch.Tensor) -> torch.Tensor:
        """``normalise((1 - m) * old + m * new)`` for unit rows; where the
        two cancel out (opposite rows, ``m = 0.5``) the new row is kept, so
        no bank row becomes zero."""
        mixed = torch.lerp(old_features, features, self.momentum)
        norms = torch.linalg.vector_norm(mixed, dim=1, keepdim=True)
        return torch.where(norms > 1e-6, mixed / norms.clamp(min=1e-12),
                           features)

    @staticmethod
    def _last_occurrence(idx: torch.Tensor, features: torch.Tensor):
        """Keep one row per distinct index, the last one in the batch."""
        sorted_idx, order = torch.sort(idx, stable=True)
        last = torch.ones_like(sorted_idx, dtype=torch.bool)
        last[:-1] = sorted_idx[1:] != sorted_idx[:-1]
        if bool(last.all()):  # no duplicates: keep the batch as it is
            return idx, features
        return sorted_idx[last], features[order[last]]

    def assign(self, features: torch.Tensor) -> torch.Tensor:
        """Label of each row: the centroid with the largest dot product
        (the first one on ties).

        Args:
            features (torch.Tensor): ``M x d`` unit-norm features.

        Returns:
            torch.Tensor: ``M`` cluster ids.
        """
        return self._nearest_centroid(features)

    def _nearest_centroid(self,
                          features: torch.Tensor,
                          excluded: Optional[torch.Tensor] = None
                          ) -> torch.Tensor:
        """Argmax of ``features @ centroids.T`` over the clusters not in the
        boolean mask ``excluded``, computed block by block."""
        num_rows, num_classes = features.shape[0], self.num_classes
        block = (CPU_SCORE_BLOCK
                 if features.device.type == 'cpu' else GPU_SCORE_BLOCK)
        cols = min(num_classes, block)
        rows = max(1, min(num_rows, block // cols))
        labels = [
            self._nearest_in_blocks(features[start:start + rows], cols,
                                    excluded)
            for start in range(0, num_rows, rows)
        ]
        if not labels:
            return torch.empty(0, dtype=torch.long, device=features.device)
        return labels[0] if len(labels) == 1 else torch.cat(labels)

    def _nearest_in_blocks(self, features: torch.Tensor, cols: int,
                           excluded: Optional[torch.Tensor]) -> torch.Tensor:
        """Nearest centroid of a few rows, ``cols`` centroids at a time."""
        best_score = best_label = None
        for start in range(0, self.num_classes, cols):
            scores = features @ self.centroids[start:start + cols].T
            if excluded is not None:
                scores.masked_fill_(excluded[start:start + cols],
                                    float('-inf'))
            label = row_argmax(scores)
            if cols >= self.num_classes:
                return label
            score = scores.gather(1, label.unsqueeze(1)).squeeze(1)
            if best_score is None:
                best_score, best_label = score, label
                continue
            better = score > best_score
            best_score = torch.where(better, score, best_score)
            best_label = torch.where(better, label + start, best_label)
        return best_label

    def _move(self, old_features: torch.Tensor, old_labels: torch.Tensor,
              new_features: torch.Tensor, new_labels: torch.Tensor) -> None:
        """Update the sums and counts for samples that leave ``old_labels``
        with ``old_features`` and join ``new_labels`` with
        ``new_features``."""
        self.cluster_sums.index_add_(0, old_labels, old_features.double(),
                                     alpha=-1)
        self.cluster_sums.index_add_(0, new_labels, new_features.double())
        self.cluster_counts.index_add_(0, old_labels,
                                       torch.full_like(old_labels, -1))
        self.cluster_counts.index_add_(0, new_labels,
                                       torch.ones_like(new_labels))

    def _relabel(self, rows: torch.Tensor, features: torch.Tensor,
                 labels: torch.Tensor) -> None:
        """Move local bank ``rows`` (features ``features``, unchanged) to
        clusters ``labels``; the statistics take the moves of every rank,
        in index order."""
        old_labels = self.label_bank[rows]
        self.label_bank[rows] = labels
        _, features, old_labels, labels = self._in_index_order(
            rows, features, old_labels, labels)
        self._move(features, old_labels, features, labels)

    # ------------------------------------------------------------ centroids
    def update_centroids(self) -> None:
        """Set every non-empty centroid to the mean of its cluster's features.

        Empty clusters keep their centroid. Rank 0's result is broadcast so
        that float rounding of the sums (atomic adds on GPUs) cannot make the
        ranks assign labels differently.
        """
        counts = self.cluster_counts.unsqueeze(1)
        means = torch.empty_like(self.centroids)
        torch.div(self.cluster_sums, counts.clamp(min=1), out=means)
        torch.where(counts > 0, means, self.centroids, out=self.centroids)
        broadcast_(self.centroids)

    def _set_centroids_from_sums(self, clusters: Sequence[int]) -> None:
        clusters = torch.as_tensor(clusters, device=self.centroids.device)
        means = (self.cluster_sums[clusters] /
                 self.cluster_counts[clusters].unsqueeze(1)).float()
        self.centroids[clusters] = broadcast_(means)

    # -------------------------------------------------------- small clusters
    def deal_with_small_clusters(self) -> int:
        """Dissolve clusters below ``min_cluster`` and refill empty ones.

        Members of small clusters move to their nearest centroid among the
        clusters of normal size; then each empty cluster takes one part of
        the currently largest cluster, split by 2-means (each part of at
        least ``min_cluster`` samples when the largest cluster has twice
        that).

        Returns:
            int: The number of clusters that were dissolved or empty.
        """
        small = self.cluster_counts < self.min_cluster
        num_small = int(small.sum())
        if num_small == 0:
            return 0
        members = small[self.label_bank].nonzero().squeeze(1)
        features = self.feature_bank[members].float()
        self._relabel(members, features,
                      self._nearest_centroid(features, excluded=small))
        self._fill_empty_clusters()
        return num_small

    def _fill_empty_clusters(self) -> None:
        """Give each empty cluster one part of the currently largest one.

        Each split changes which cluster is the largest, so the empty
        clusters are served one after another (there are few: only those
        dissolved in this iteration).
        """
        empty = (self.cluster_counts == 0).nonzero().squeeze(1).tolist()
        for cluster in empty:
            largest = int(self.cluster_counts.argmax())
            self._split_largest(largest, cluster)
            self._set_centroids_from_sums([largest, cluster])

    def _split_largest(self, largest: int, cluster: int) -> None:
        """Move one part of cluster ``largest``, split by 2-means over all
        its members (on every rank, in index order), to the empty
        ``cluster``."""
        members = (self.label_bank == largest).nonzero().squeeze(1)
        members, features = self._in_index_order(
            members, self.feature_bank[members].float())
        in_second = split_in_two(features, min_size=self.min_cluster)
        rows = self._local_rows(members[in_second])
        self._relabel(rows, self.feature_bank[rows].float(),
                      torch.full_like(rows, cluster))

    def recluster(self, seed: int = 0, pca_dim: int = -1) -> float:
        """Cluster the feature bank afresh with k-means, renumber the
        clusters after the current labels (the Hungarian matching of
        :func:`mmodc.clustering.renumbering`, so the head's classes keep
        their meaning), then recompute the statistics and centroids and
        handle small clusters. Unlike DeepCluster's re-clustering this
        extracts nothing: the bank already holds every sample's feature.

        Args:
            seed (int): Seed of the k-means initialisation.
            pca_dim (int): k-means on the bank projected on its top
                ``pca_dim`` principal components, whitened, then L2
                (DeepCluster's preprocessing,
                :func:`mmodc.clustering.preprocess_features`); -1 for
                k-means of the bank as it is. Defaults to -1.

        Returns:
            float: The fraction of samples whose label changed.
        """
        labels = self.matched_labels(self._kmeans_of_bank(seed, pca_dim))
        changed = self.changed_share(labels)
        self.label_bank.copy_(labels)
        self.recompute_cluster_statistics()
        self.update_centroids()
        self.deal_with_small_clusters()
        return changed

    def changed_share(self, labels: torch.Tensor) -> float:
        """The fraction of all samples (summed over the ranks) whose current
        label differs from ``labels``.

        Args:
            labels (torch.Tensor): Cluster ids of the rows this rank holds,
                in the label bank's order.

        Returns:
            float: The fraction, the same on every rank.
        """
        changed = self._summed_over_ranks((labels != self.label_bank).sum())
        return float(changed) / self.length

    def matched_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """Renumber a new clustering of this rank's rows after the current
        labels: each new cluster takes the id of the current cluster it
        shares the most samples with (the Hungarian matching of
        :func:`mmodc.clustering.renumbering` on the contingency table summed
        over the ranks), so the head's classes keep their meaning.

        Args:
            labels (torch.Tensor): New cluster ids in ``[0, K)`` of the rows
                this rank holds, in the label bank's order.

        Returns:
            torch.Tensor: The same partition, renumbered.
        """
        table = self._summed_over_ranks(
            contingency_table(self.label_bank, labels, self.num_classes))
        return renumbering(table).to(labels.device)[labels]

    def _kmeans_of_bank(self, seed: int, pca_dim: int) -> torch.Tensor:
        """k-means labels of this rank's bank rows (rank 0's k-means of
        the whole bank, preprocessed if ``pca_dim > 0``, broadcast)."""
        labels = torch.zeros_like(self.label_bank)
        if is_main_process():
            features = self.feature_bank
            if pca_dim > 0:
                features = preprocess_features(features, pca_dim)
            labels = kmeans(features, self.num_classes,
                            seed=seed)[0].to(labels)
        return broadcast_(labels)

    def _summed_over_ranks(self, tensor: torch.Tensor) -> torch.Tensor:
        """A count over this rank's rows summed over the ranks' (every rank
        holds all rows here: the count itself)."""
        return tensor

    # --------------------------------------------------------- class weights
    def update_class_weights(self, power: float = 0.5) -> None:
        """Set the loss weight of cluster ``c`` to ``n_c ** -power``,
        normalised to sum 1 (0 for empty clusters).

        Args:
            power (float): The exponent; 0 gives uniform weights.
        """
        self.class_weights.copy_(
            cluster_class_weights(self.cluster_counts, power))

    # ---------------------------------------------------------------- checks
    @staticmethod
    def _check_finite(features: torch.Tensor, what: str) -> None:
        """Raise if ``features`` hold NaN or Inf, or rows so large that
        their norm overflows."""
        finite = torch.isfinite(features).all()
        if not (finite and torch.isfinite(
                torch.linalg.vector_norm(features, dim=-1)).all()):
            raise FloatingPointError(
                f'ODCMemory: non-finite values in the {what} at '
                f'{current_iteration()}'
                + ('' if not finite else ' (rows too large to normalise)')
                + '; the network diverged (lower the learning rate or check '
                'the input data).')
