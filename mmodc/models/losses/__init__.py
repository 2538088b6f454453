from .weighted_cross_entropy import (
    cluster_class_weights,
    weighted_cross_entropy,
)

__all__ = ['cluster_class_weights', 'weighted_cross_entropy']
