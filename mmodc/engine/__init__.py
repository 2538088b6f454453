import mmpretrain.engine  # noqa: F401  (fills the parent registries)
import mmpretrain.visualization  # noqa: F401

from .extractor import extract_features, recompute_bn_statistics, unwrap_model
from .hooks import *  # noqa: F401,F403

__all__ = ['extract_features', 'recompute_bn_statistics', 'unwrap_model']
