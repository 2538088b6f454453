import mmpretrain.engine  # noqa: F401  (fills the parent registries)
import mmpretrain.visualization  # noqa: F401

from .bad_sample_policy import apply_skip_bad_samples
from .data_sizes import (
    auto_num_clusters,
    resolve_data_sizes,
    resolve_image_folder,
)
from .extractor import (
    extract_features,
    extract_local_features,
    recompute_bn_statistics,
    unwrap_model,
)
from .hooks import *  # noqa: F401,F403

__all__ = [
    'apply_skip_bad_samples', 'auto_num_clusters', 'resolve_data_sizes',
    'resolve_image_folder', 'extract_features', 'extract_local_features',
    'recompute_bn_statistics',
    'unwrap_model'
]
