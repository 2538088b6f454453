"""Sample and centroid memory of Online Deep Clustering."""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmodc.registry import MODELS
from mmodc.clustering import split_in_two
from mmodc.utils import all_gather_cat, broadcast_, current_iteration


@MODELS.register_module()
class ODCMemory(BaseModule):
    """Memory of ODC: a feature and a pseudo-label for every training sample,
    and one centroid per cluster.

    Every rank holds the full memory and applies the same deterministic
    updates to it, so the banks stay identical across ranks without
    broadcasting them. Per-cluster feature sums and sample counts are kept up
    to date as samples move between clusters, so recomputing the centroids
    costs ``O(K d)`` instead of a pass over the whole bank.

    All state is made of registered buffers: it is saved in every checkpoint
    and restored exactly on resume.

    Args:
        length (int): Number of samples ``N`` (the training set's length).
        feat_dim (int): Feature dimension ``d``.
        momentum (float): Weight ``m`` of the new feature in the update
            ``normalise((1 - m) * bank + m * feature)``. Defaults to 0.5.
        num_classes (int): Number of clusters ``K``. Defaults to 10000.
        min_cluster (int): Clusters with fewer samples are dissolved by
            :meth:`deal_with_small_clusters`. Defaults to 20.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 length: int,
                 feat_dim: int,
                 momentum: float = 0.5,
                 num_classes: int = 10000,
                 min_cluster: int = 20,
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        self._check_sizes(length, num_classes, min_cluster)
        self.length = length
        self.feat_dim = feat_dim
        self.momentum = momentum
        self.num_classes = num_classes
        self.min_cluster = min_cluster
        self.register_buffer('feature_bank', torch.zeros(length, feat_dim))
        self.register_buffer('label_bank',
                             torch.zeros(length, dtype=torch.long))
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

    # ------------------------------------------------------------------ init
    def init_memory(self, features: torch.Tensor,
                    labels: torch.Tensor) -> None:
        """Fill the memory from a clustering of the whole training set.

        Args:
            features (torch.Tensor): ``N x d`` features, row ``i`` of sample
                ``i``; they are L2-normalised here.
            labels (torch.Tensor): ``N`` cluster ids in ``[0, K)``.
        """
        if features.shape != self.feature_bank.shape:
            raise ValueError(
                f'ODCMemory.init_memory: features of shape '
                f'{tuple(features.shape)} do not match the memory '
                f'(length={self.length}, feat_dim={self.feat_dim}).')
        self._check_finite(features, 'initial features')
        device = self.feature_bank.device
        self.feature_bank.copy_(F.normalize(features.to(device), dim=1))
        self.label_bank.copy_(labels.to(device))
        self.recompute_cluster_statistics()
        self.update_centroids()
        self.initialized.fill_(True)

    def recompute_cluster_statistics(self) -> None:
        """Recompute the per-cluster feature sums and counts from the banks."""
        self.cluster_sums.zero_().index_add_(0, self.label_bank,
                                             self.feature_bank.double())
        self.cluster_counts.copy_(
            torch.bincount(self.label_bank, minlength=self.num_classes))

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
            torch.Tensor: The fraction of the batch's labels that changed.
        """
        device = self.feature_bank.device
        self._check_finite(features, 'batch features')
        idx = all_gather_cat(idx.to(device))
        features = all_gather_cat(F.normalize(features.to(device), dim=1))
        idx, features = self._last_occurrence(idx, features)
        old_features = self.feature_bank[idx]
        new_features = F.normalize(
            (1 - self.momentum) * old_features + self.momentum * features,
            dim=1)
        old_labels = self.label_bank[idx]
        new_labels = self.assign(new_features)
        self._remove_from_clusters(old_features, old_labels)
        self._add_to_clusters(new_features, new_labels)
        self.feature_bank[idx] = new_features
        self.label_bank[idx] = new_labels
        return (new_labels != old_labels).float().mean()

    @staticmethod
    def _last_occurrence(idx: torch.Tensor, features: torch.Tensor):
        """Keep one row per distinct index: the last one in the batch."""
        unique_idx, inverse = torch.unique(idx, return_inverse=True)
        positions = torch.arange(idx.numel(), device=idx.device)
        last = torch.full_like(unique_idx, -1).scatter_reduce_(
            0, inverse, positions, reduce='amax')
        return unique_idx, features[last]

    def assign(self, features: torch.Tensor) -> torch.Tensor:
        """Label of each row: the centroid with the largest dot product.

        Args:
            features (torch.Tensor): ``M x d`` unit-norm features.

        Returns:
            torch.Tensor: ``M`` cluster ids.
        """
        return (features @ self.centroids.T).argmax(dim=1)

    def _add_to_clusters(self, features: torch.Tensor,
                         labels: torch.Tensor) -> None:
        self.cluster_sums.index_add_(0, labels, features.double())
        self.cluster_counts.index_add_(0, labels, torch.ones_like(labels))

    def _remove_from_clusters(self, features: torch.Tensor,
                              labels: torch.Tensor) -> None:
        self.cluster_sums.index_add_(0, labels, features.double(), alpha=-1)
        self.cluster_counts.index_add_(0, labels, torch.ones_like(labels),
                                       alpha=-1)

    def _relabel(self, idx: torch.Tensor, labels: torch.Tensor) -> None:
        """Move samples ``idx`` (features unchanged) to clusters ``labels``."""
        features = self.feature_bank[idx]
        self._remove_from_clusters(features, self.label_bank[idx])
        self._add_to_clusters(features, labels)
        self.label_bank[idx] = labels

    # ------------------------------------------------------------ centroids
    def update_centroids(self) -> None:
        """Set every non-empty centroid to the mean of its cluster's features.

        Empty clusters keep their centroid. Rank 0's result is broadcast so
        that float rounding of the sums (atomic adds on GPUs) cannot make the
        ranks assign labels differently.
        """
        counts = self.cluster_counts.unsqueeze(1)
        means = self.cluster_sums / counts.clamp(min=1)
        self.centroids.copy_(
            torch.where(counts > 0, means.float(), self.centroids))
        broadcast_(self.centroids)

    # -------------------------------------------------------- small clusters
    def deal_with_small_clusters(self) -> int:
        """Dissolve clusters below ``min_cluster`` and refill empty ones.

        Members of small clusters move to their nearest centroid among the
        clusters of normal size; then each empty cluster takes one half of
        the currently largest cluster, split by 2-means.

        Returns:
            int: The number of clusters that were dissolved or empty.
        """
        small = self.cluster_counts < self.min_cluster
        num_small = int(small.sum())
        if num_small == 0:
            return 0
        members = small[self.label_bank].nonzero().squeeze(1)
        if members.numel() > 0:
            scores = self.feature_bank[members] @ self.centroids.T
            scores[:, small] = float('-inf')
            self._relabel(members, scores.argmax(dim=1))
        self._fill_empty_clusters()
        return num_small

    def _fill_empty_clusters(self) -> None:
        """Give each empty cluster one half of the currently largest one.

        Each split changes which cluster is the largest, so the empty
        clusters are served one after another (there are few: only those
        dissolved in this iteration).
        """
        empty = (self.cluster_counts == 0).nonzero().squeeze(1).tolist()
        for cluster in empty:
            largest = int(self.cluster_counts.argmax())
            members = (self.label_bank == largest).nonzero().squeeze(1)
            moved = members[split_in_two(self.feature_bank[members])]
            self._relabel(moved, torch.full_like(moved, cluster))
            self._set_centroids_from_sums([largest, cluster])

    def _set_centroids_from_sums(self, clusters: list) -> None:
        clusters = torch.as_tensor(clusters, device=self.centroids.device)
        self.centroids[clusters] = (
            self.cluster_sums[clusters] /
            self.cluster_counts[clusters].unsqueeze(1)).float()

    # --------------------------------------------------------- class weights
    def update_class_weights(self, power: float = 0.5) -> None:
        """Set the loss weight of cluster ``c`` to ``n_c ** -power``,
        normalised to sum 1 (0 for empty clusters).

        Args:
            power (float): The exponent; 0 gives uniform weights.
        """
        counts = self.cluster_counts.double()
        weights = torch.where(counts > 0,
                              counts.clamp(min=1).pow(-power),
                              torch.zeros_like(counts))
        self.class_weights.copy_(weights / weights.sum())

    # ---------------------------------------------------------------- checks
    @staticmethod
    def _check_finite(features: torch.Tensor, what: str) -> None:
        if not torch.isfinite(features).all():
            raise FloatingPointError(
                f'ODCMemory: non-finite values in the {what} at '
                f'{current_iteration()}; the network diverged (lower the '
                'learning rate or check the input data).')
