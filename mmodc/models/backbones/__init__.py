from .multi_level_resnet import MultiLevelResNet
from .multi_level_resnet_cifar import MultiLevelResNet_CIFAR
from .sobel_backbone import SobelBackbone

__all__ = ['MultiLevelResNet', 'MultiLevelResNet_CIFAR', 'SobelBackbone']
