from .kmeans import kmeans
from .label_matching import contingency_table, renumbering
from .preprocess import pca_whiten, preprocess_features
from .sampled_kmeans import (
    assign_to_centroids,
    default_sample_size,
    sampled_kmeans,
    sampled_preprocess,
)
from .two_means import split_in_two

__all__ = [
    'assign_to_centroids', 'contingency_table', 'default_sample_size',
    'kmeans', 'renumbering', 'pca_whiten',
    'preprocess_features', 'sampled_kmeans', 'sampled_preprocess',
    'split_in_two'
]
