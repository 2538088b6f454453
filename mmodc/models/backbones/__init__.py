from .multi_level_resnet import MultiLevelResNet, resnet_levels
from .multi_level_resnet_cifar import MultiLevelResNet_CIFAR
from .sobel_backbone import SobelBackbone

__all__ = [
    'MultiLevelResNet', 'MultiLevelResNet_CIFAR', 'SobelBackbone',
    'resnet_levels'
]
