"""Fixed Sobel front end (grey + two 3x3 Sobel filters) before a backbone."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmodc.registry import MODELS

#: Horizontal and vertical 3x3 Sobel kernels, as 2 x 1 x 3 x 3 conv weights.
SOBEL_KERNELS = torch.tensor([
    [[1., 0., -1.], [2., 0., -2.], [1., 0., -1.]],
    [[1., 2., 1.], [0., 0., 0.], [-1., -2., -1.]],
]).unsqueeze(1)


@MODELS.register_module()
class SobelBackbone(BaseModule):
    """Any backbone behind DeepCluster's Sobel filtering.

    The image is turned grey (mean of its channels), then filtered with the
    horizontal and vertical Sobel kernels (padding 1), giving 2 channels for
    the backbone. The front end has no trainable parameters and nothing in
    the state dict: a checkpoint holds the backbone's weights only (its
    first convolution has 2 input channels).

    Args:
        backbone (dict): Config of the backbone, e.g. an MMPretrain
            ``ResNet`` with ``in_channels=2``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, backbone: dict, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        in_channels = backbone.get('in_channels', 3)
        if in_channels != 2:
            raise ValueError(
                'SobelBackbone feeds 2 channels (the Sobel responses): set '
                f"backbone.in_channels=2 (got {in_channels}) in "
                f"the {backbone.get('type')} config.")
        self.backbone = MODELS.build(backbone)
        self.register_buffer('sobel', SOBEL_KERNELS.clone(), persistent=False)

    def sobel_filter(self, inputs: torch.Tensor) -> torch.Tensor:
        """The front end: grey, then the two Sobel filters.

        Args:
            inputs (torch.Tensor): ``B x C x H x W`` images.

        Returns:
            torch.Tensor: The ``B x 2 x H x W`` input of the backbone.
        """
        grey = inputs.mean(dim=1, keepdim=True)
        return F.conv2d(grey, self.sobel.to(grey.dtype), padding=1)

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Filter, then run the backbone.

        Args:
            inputs (torch.Tensor): ``B x C x H x W`` images.

        Returns:
            tuple[torch.Tensor]: The backbone's outputs.
        """
        return self.backbone(self.sobel_filter(inputs))
