from .kmeans import kmeans
from .label_matching import match_clusters
from .preprocess import pca_whiten, preprocess_features
from .two_means import split_in_two

__all__ = [
    'kmeans', 'match_clusters', 'pca_whiten', 'preprocess_features',
    'split_in_two'
]
