import mmpretrain.datasets  # noqa: F401  (fills the parent registries)

from .checked_custom_dataset import CheckedCustomDataset
from .deepcluster_dataset import DeepClusterDataset
from .fashion_mnist import FashionMNIST
from .inat18 import INat18
from .places205 import Places205
from .samplers import DeepClusterSampler
from .skip_bad_samples import SkipBadSamples, SkippedSample
from .skip_bad_samples_collate import SKIPPED_KEY, skip_bad_samples_collate
from .transforms import RandomIntensityJitter

__all__ = [
    'CheckedCustomDataset', 'SkipBadSamples', 'SkippedSample', 'SKIPPED_KEY',
    'skip_bad_samples_collate', 'DeepClusterDataset', 'FashionMNIST',
    'INat18', 'Places205', 'DeepClusterSampler', 'RandomIntensityJitter'
]
