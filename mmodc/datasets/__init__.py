import mmpretrain.datasets  # noqa: F401  (fills the parent registries)

from .fashion_mnist import FashionMNIST
from .samplers import DeepClusterSampler
from .transforms import RandomIntensityJitter

__all__ = ['FashionMNIST', 'DeepClusterSampler', 'RandomIntensityJitter']
