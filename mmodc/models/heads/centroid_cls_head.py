"""Cosine classifier whose class vectors are the clustering's centroids."""
from typing import Optional

import torch
import torch.nn.functional as F

from mmodc.registry import MODELS
from mmodc.utils.sizes import require_resolved
from .base_cluster_head import BaseClusterHead


@MODELS.register_module()
class CentroidClsHead(BaseClusterHead):
    """Scores a sample against every cluster centroid: the cosine similarity
    of its embedding and the centroid, divided by a temperature. Nothing is
    learned: the class vectors are the memory's centroids, copied in by ODC
    before each loss (:meth:`set_centroids`), as DeepCluster-v2
    (Caron et al., NeurIPS 2020) uses its k-means centroids as the
    classifier. The embedding is pulled towards its own cluster's centroid
    and away from the others, instead of a linear layer learning to follow
    clusters that move under it.

    The prototypes are a buffer, so a checkpoint holds the centroids its
    scores were computed with and ``head(embedding)`` works on a model
    loaded from it.

    Args:
        in_channels (int): Embedding dimension (that of the centroids).
        num_classes (int): Number of clusters.
        temperature (float): Divides the cosine similarities. Defaults to
            0.1 (DeepCluster-v2).
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 temperature: float = 0.1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.num_classes = require_resolved(num_classes,
                                            'model.head.num_classes')
        if temperature <= 0:
            raise ValueError(f'CentroidClsHead: temperature={temperature} '
                             'must be positive (e.g. 0.1).')
        self.temperature = temperature
        self.register_buffer('prototypes',
                             torch.zeros(self.num_classes, in_channels))

    def set_centroids(self, centroids: torch.Tensor) -> None:
        """Take the current centroids as the class vectors.

        Args:
            centroids (torch.Tensor): ``num_classes x in_channels``.
        """
        if centroids.shape != self.prototypes.shape:
            raise ValueError(
                f'CentroidClsHead: centroids of shape {tuple(centroids.shape)}'
                f' but the head expects {tuple(self.prototypes.shape)} '
                '(model.head.num_classes x model.head.in_channels); set them '
                'to the memory\'s num_classes and feat_dim.')
        self.prototypes.copy_(centroids)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """Cluster scores.

        Args:
            feats (torch.Tensor): ``B x in_channels`` embeddings.

        Returns:
            torch.Tensor: ``B x num_classes`` logits, cosine similarities
            divided by the temperature.
        """
        prototypes = F.normalize(self.prototypes, dim=1).to(feats.dtype)
        return F.normalize(feats, dim=1) @ prototypes.T / self.temperature
