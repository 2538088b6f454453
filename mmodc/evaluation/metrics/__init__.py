from .clustering_metric import ClusteringMetric

__all__ = ['ClusteringMetric']
