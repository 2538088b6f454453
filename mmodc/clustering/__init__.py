from .kmeans import kmeans
from .preprocess import pca_whiten, preprocess_features
from .two_means import split_in_two

__all__ = ['kmeans', 'pca_whiten', 'preprocess_features', 'split_in_two']
