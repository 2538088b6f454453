"""What the heads over cluster pseudo-labels share."""
from typing import Optional

import torch
from mmengine.model import BaseModule

from ..losses import weighted_cross_entropy


class BaseClusterHead(BaseModule):
    """A head that scores every cluster; its loss is the class-weighted mean
    cross entropy of the scores. Subclasses implement ``forward``.

    Args:
        init_cfg (dict, optional): Initialisation config.
    """

    def set_centroids(self, centroids: torch.Tensor) -> None:
        """Receive the clustering's current centroids (ODC passes its
        memory's before each loss). A learned head does not use them.

        Args:
            centroids (torch.Tensor): ``num_classes x in_channels``.
        """

    def loss(self,
             feats: torch.Tensor,
             labels: torch.Tensor,
             class_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The class-weighted mean cross entropy of the scores.

        Args:
            feats (torch.Tensor): ``B x in_channels`` features.
            labels (torch.Tensor): ``B`` cluster ids.
            class_weight (torch.Tensor, optional): Per-cluster weights.

        Returns:
            torch.Tensor: The scalar loss.
        """
        return weighted_cross_entropy(self(feats), labels, class_weight)
