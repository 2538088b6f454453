import mmpretrain.datasets  # noqa: F401  (fills the parent registries)

from .deepcluster_dataset import DeepClusterDataset
from .fashion_mnist import FashionMNIST
from .samplers import DeepClusterSampler
from .transforms import RandomIntensityJitter

__all__ = [
    'DeepClusterDataset', 'FashionMNIST', 'DeepClusterSampler',
    'RandomIntensityJitter'
]
