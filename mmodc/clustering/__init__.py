from .kmeans import kmeans
from .label_matching import match_clusters
from .preprocess import pca_whiten, preprocess_features
from .sampled_kmeans import assign_to_centroids, sampled_kmeans
from .two_means import split_in_two

__all__ = [
    'assign_to_centroids', 'kmeans', 'match_clusters', 'pca_whiten',
    'preprocess_features', 'sampled_kmeans', 'split_in_two'
]
