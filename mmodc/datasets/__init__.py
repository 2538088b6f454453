import mmpretrain.datasets  # noqa: F401  (fills the parent registries)

from .deepcluster_dataset import DeepClusterDataset
from .fashion_mnist import FashionMNIST
from .inat18 import INat18
from .places205 import Places205
from .samplers import DeepClusterSampler
from .transforms import RandomIntensityJitter

__all__ = [
    'DeepClusterDataset', 'FashionMNIST', 'INat18', 'Places205',
    'DeepClusterSampler', 'RandomIntensityJitter'
]
