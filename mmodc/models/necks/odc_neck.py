"""Projection neck of ODC."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule

from mmodc.registry import MODELS


@MODELS.register_module()
class ODCNeck(BaseModule):
    """The ODC neck: global average pool, fc, norm, ReLU, dropout, fc, ReLU.

    The output is non-negative because of the final ReLU, as in the
    reference implementation; ``final_relu=False`` leaves it signed (for a
    cosine classifier such as :class:`CentroidClsHead`).

    Args:
        in_channels (int): Channels of the backbone's last stage.
        hid_channels (int): Hidden width. Defaults to 512.
        out_channels (int): Embedding dimension. Defaults to 256.
        with_avg_pool (bool): Global-average-pool a feature map first.
            Defaults to True.
        norm_cfg (dict, optional): Normalisation after the first fc;
            ``None`` for none (useful where batch statistics must not mix
            samples). Defaults to BatchNorm1d without affine parameters.
        dropout (float): Dropout probability. Defaults to 0.5.
        final_relu (bool): ReLU after the last fc. Defaults to True.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: int = 512,
                 out_channels: int = 256,
                 with_avg_pool: bool = True,
                 norm_cfg: Optional[dict] = dict(
                     type='BN1d', momentum=0.001, affine=False),
                 dropout: float = 0.5,
                 final_relu: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.avgpool = nn.AdaptiveAvgPool2d(1) if with_avg_pool else None
        self.fc0 = nn.Linear(in_channels, hid_channels)
        self.bn0 = (
            build_norm_layer(norm_cfg, hid_channels)[1]
            if norm_cfg is not None else nn.Identity())
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(p=dropout)
        self.fc1 = nn.Linear(hid_channels, out_channels)
        self.final_relu = final_relu

    def forward(self, inputs: Tuple[torch.Tensor]) -> Tuple[torch.Tensor]:
        """Embed the last backbone output.

        Args:
            inputs (tuple[torch.Tensor]): Backbone outputs; the last is used.

        Returns:
            tuple[torch.Tensor]: The ``B x out_channels`` embedding.
        """
        x = inputs[-1]
        if self.avgpool is not None:
            x = self.avgpool(x)
        x = self.dropout(self.relu(self.bn0(self.fc0(x.flatten(1)))))
        x = self.fc1(x)
        return (self.relu(x) if self.final_relu else x, )
