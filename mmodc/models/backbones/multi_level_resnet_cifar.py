"""ResNet_CIFAR whose outputs include the stem (feature1..feature5)."""
from mmpretrain.models.backbones import ResNet_CIFAR

from mmodc.registry import MODELS
from .multi_level_resnet import MultiLevelResNet


@MODELS.register_module()
class MultiLevelResNet_CIFAR(MultiLevelResNet, ResNet_CIFAR):
    """MMPretrain's ResNet_CIFAR that can also output its stem.

    ``MultiLevelResNet`` (levels 0 = stem, 1..4 = stages) on the CIFAR stem
    (a 3x3 convolution of stride 1 and no max-pool), as in the Fashion-MNIST
    models. The state dict is ResNet_CIFAR's.

    Args:
        depth (int): Network depth, from {18, 34, 50, 101, 152}.
        out_indices (Sequence[int]): Levels to output (0 = stem, i = stage
            i). Defaults to ``(0, 1, 2, 3, 4)``.
        **kwargs: The other arguments of MMPretrain's ``ResNet_CIFAR``.
    """
