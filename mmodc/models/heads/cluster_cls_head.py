"""Linear classifier over cluster pseudo-labels."""
from typing import Optional

import torch
import torch.nn as nn

from mmodc.registry import MODELS
from mmodc.utils.sizes import require_resolved
from .base_cluster_head import BaseClusterHead


@MODELS.register_module()
class ClusterClsHead(BaseClusterHead):
    """A linear layer whose loss is the class-weighted mean cross entropy.

    Args:
        in_channels (int): Input feature dimension.
        num_classes (int): Number of clusters.
        init_cfg (dict, optional): Initialisation config. Defaults to
            Normal(std 0.01) weights and zero bias, as the reference head.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 init_cfg: Optional[dict] = dict(
                     type='Normal', std=0.01, bias=0., layer='Linear')
                 ) -> None:
        super().__init__(init_cfg)
        self.num_classes = require_resolved(num_classes,
                                            'model.head.num_classes')
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """Cluster scores.

        Args:
            feats (torch.Tensor): ``B x in_channels`` features.

        Returns:
            torch.Tensor: ``B x num_classes`` logits.
        """
        return self.fc_cls(feats)
