from .clustering_metric import ClusteringMetric
from .multi_head_accuracy import MultiHeadAccuracy

__all__ = ['ClusteringMetric', 'MultiHeadAccuracy']
