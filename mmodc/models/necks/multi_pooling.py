"""Average pooling of each backbone level to a fixed-size map."""
from typing import Dict, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmodc.registry import MODELS

#: The reference pooling of ResNet-50 at 224 px (OpenSelfSup / FAIR's
#: benchmark): level -> AvgPool2d arguments; the flattened dims are 9216,
#: 9216, 8192, 9216 and 8192 for feature1 (stem) .. feature5.
POOL_PRESETS: Dict[str, Dict[int, dict]] = {
    'resnet50': {
        1: dict(kernel_size=10, stride=10, padding=4),  # 64 x 12 x 12
        2: dict(kernel_size=16, stride=8, padding=0),  # 256 x 6 x 6
        3: dict(kernel_size=13, stride=5, padding=0),  # 512 x 4 x 4
        4: dict(kernel_size=8, stride=3, padding=0),  # 1024 x 3 x 3
        5: dict(kernel_size=6, stride=1, padding=0),  # 2048 x 2 x 2
    },
}

#: Levels of a ResNet: 1 = stem, 2..5 = the four stages.
ALL_LEVELS = (1, 2, 3, 4, 5)


def build_pool(pool: dict, level: int) -> nn.Module:
    """One level's pooling layer from its config.

    Args:
        pool (dict): ``AvgPool2d`` arguments (``kernel_size``, ``stride``,
            ``padding``) or ``dict(output_size=...)`` for adaptive pooling.
        level (int): The level, for the error message.

    Returns:
        nn.Module: ``nn.AvgPool2d`` or ``nn.AdaptiveAvgPool2d``.
    """
    if not isinstance(pool, dict):
        raise TypeError(
            f'MultiPooling: the pool of feature{level} must be a dict of '
            f'AvgPool2d arguments or dict(output_size=...), got {pool!r}.')
    if 'output_size' in pool:
        return nn.AdaptiveAvgPool2d(**pool)
    return nn.AvgPool2d(**pool)


def resolve_pools(pools: Union[str, Sequence[dict]],
                  levels: Sequence[int]) -> Sequence[dict]:
    """One pool config per level, from a preset name or a list.

    Args:
        pools (str | Sequence[dict]): A key of :data:`POOL_PRESETS` or one
            dict per level.
        levels (Sequence[int]): The levels of the inputs.

    Returns:
        list[dict]: The pool config of each level.
    """
    if isinstance(pools, str):
        if pools not in POOL_PRESETS:
            raise KeyError(
                f'MultiPooling: unknown pools preset {pools!r}; use one of '
                f'{sorted(POOL_PRESETS)} or a list of one dict per level.')
        return [POOL_PRESETS[pools][level] for level in levels]
    if len(pools) != len(levels):
        raise ValueError(
            f'MultiPooling: {len(pools)} pools for {len(levels)} levels '
            f'{list(levels)}; give one pool dict per level.')
    return list(pools)


@MODELS.register_module()
class MultiPooling(BaseModule):
    """Average-pool every backbone level to a fixed-size map.

    The inputs are the backbone's outputs in network order, one per level of
    ``levels`` (1 = stem, 2..5 = the stages, i.e. feature1..feature5, which
    ``MultiLevelResNet`` outputs as ``out_indices`` 0..4). The outputs are
    the pooled 4-D maps, not flattened.

    Args:
        levels (Sequence[int]): The levels of the inputs, from 1..5.
            Defaults to all five.
        pools (str | Sequence[dict]): ``'resnet50'`` for the reference
            pooling of ResNet-50 at 224 px (see :data:`POOL_PRESETS`), or one
            dict per level: ``AvgPool2d`` arguments or
            ``dict(output_size=n)`` for adaptive average pooling (e.g. for
            small images). Defaults to ``'resnet50'``.
    """

    def __init__(self,
                 levels: Sequence[int] = ALL_LEVELS,
                 pools: Union[str, Sequence[dict]] = 'resnet50') -> None:
        super().__init__()
        if not levels or not set(levels) <= set(ALL_LEVELS):
            raise ValueError(
                f'MultiPooling: levels={levels!r} is invalid; give levels '
                f'from {list(ALL_LEVELS)} (1 = stem), one per backbone '
                'output.')
        self.levels = tuple(levels)
        self.pools = nn.ModuleList(
            build_pool(pool, level)
            for pool, level in zip(resolve_pools(pools, levels), levels))

    def forward(self, inputs: Sequence[torch.Tensor]
                ) -> Tuple[torch.Tensor, ...]:
        """Pool each level.

        Args:
            inputs (Sequence[torch.Tensor]): One ``B x C x H x W`` map per
                level.

        Returns:
            tuple[torch.Tensor]: The pooled ``B x C x h x w`` maps.
        """
        if len(inputs) != len(self.levels):
            raise ValueError(
                f'MultiPooling got {len(inputs)} backbone outputs for levels '
                f'{list(self.levels)}: make the backbone out_indices and the '
                'neck levels name the same levels.')
        return tuple(pool(x) for pool, x in zip(self.pools, inputs))
