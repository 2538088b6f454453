"""ResNet whose outputs include the stem (feature1..feature5)."""
from typing import Sequence, Tuple

import torch
from mmpretrain.models.backbones import ResNet, ResNet_CIFAR

from mmodc.registry import MODELS


def check_level_indices(out_indices: Sequence[int], num_stages: int,
                        backbone: str) -> Tuple[int, ...]:
    """Validate levels counted with 0 = stem, 1..num_stages = the stages.

    Args:
        out_indices (Sequence[int]): The requested levels.
        num_stages (int): Number of residual stages of the network.
        backbone (str): Name of the backbone, for the error message.

    Returns:
        tuple[int]: The levels, in network order.
    """
    valid = list(range(num_stages + 1))
    if (isinstance(out_indices, str)
            or not isinstance(out_indices, Sequence) or not out_indices
            or not all(isinstance(index, int) for index in out_indices)
            or len(set(out_indices)) != len(out_indices)
            or not set(out_indices) <= set(valid)):
        raise ValueError(
            f'{backbone}: out_indices={out_indices!r} is invalid; give a '
            f'non-empty list of distinct levels from {valid} (0 = the stem '
            f'before the max-pool, i = stage i), e.g. out_indices={valid}.')
    return tuple(sorted(out_indices))


def resnet_levels(resnet: ResNet, x: torch.Tensor,
                  levels: Sequence[int]) -> Tuple[torch.Tensor, ...]:
    """The feature maps of any MMPretrain ResNet at the given levels.

    Level 0 is the stem output (conv1, norm and ReLU, or the deep stem)
    *before* the max-pool, levels 1..4 are the residual stages. A
    ``ResNet_CIFAR`` has no max-pool. This is how :class:`MultiLevelResNet`
    computes its outputs, and how a plain ``ResNet`` trained by ODC or
    DeepCluster gives feature1..feature5 without being rebuilt.

    Args:
        resnet (ResNet): The network (``ResNet``, ``ResNet_CIFAR`` or a
            subclass).
        x (torch.Tensor): ``B x C x H x W`` images.
        levels (Sequence[int]): Levels in network order (see
            :func:`check_level_indices`).

    Returns:
        tuple[torch.Tensor]: One map per level, in network order.
    """
    if resnet.deep_stem:
        x = resnet.stem(x)
    else:
        x = resnet.relu(resnet.norm1(resnet.conv1(x)))
    outs = [x] if 0 in levels else []
    if not isinstance(resnet, ResNet_CIFAR):
        x = resnet.maxpool(x)
    for level, layer_name in enumerate(resnet.res_layers, start=1):
        if level > levels[-1]:
            break
        x = getattr(resnet, layer_name)(x)
        if level in levels:
            outs.append(x)
    return tuple(outs)


@MODELS.register_module()
class MultiLevelResNet(ResNet):
    """MMPretrain's ResNet that can also output its stem.

    The levels of ``out_indices`` count the stem output (after conv1, norm
    and ReLU, or the deep stem, *before* the max-pool: 64 x 112 x 112 for
    a ResNet-50 at 224 px) as 0 and the residual stages as 1..4, i.e.
    feature1..feature5 of the multi-head linear evaluation and the VOC07
    SVM benchmark (OpenSelfSup numbering). The modules, and so the state
    dict, are MMPretrain ResNet's: a ``backbone.`` checkpoint of any ResNet
    model loads unchanged. ``frozen_stages`` and ``norm_eval`` work as in
    ResNet (``frozen_stages=4`` freezes the stem and all stages).

    Args:
        depth (int): Network depth, from {18, 34, 50, 101, 152}.
        out_indices (Sequence[int]): Levels to output (0 = stem, i = stage
            i). Defaults to ``(0, 1, 2, 3, 4)``.
        **kwargs: The other arguments of MMPretrain's ``ResNet``.
    """

    def __init__(self,
                 depth: int,
                 out_indices: Sequence[int] = (0, 1, 2, 3, 4),
                 **kwargs) -> None:
        levels = check_level_indices(out_indices,
                                     kwargs.get('num_stages', 4),
                                     type(self).__name__)
        # ResNet only knows stage indices; the levels replace them below
        super().__init__(depth, out_indices=(0, ), **kwargs)
        self.out_indices = levels

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """The outputs of the requested levels.

        Args:
            x (torch.Tensor): ``B x C x H x W`` images.

        Returns:
            tuple[torch.Tensor]: One map per level of ``out_indices``, in
            network order.
        """
        return resnet_levels(self, x, self.out_indices)
