import mmpretrain.evaluation  # noqa: F401  (fills the parent registries)

from .feature_eval import evaluate_features, kmeans_scores
from .functional import (
    adjusted_rand_index,
    cluster_accuracy,
    cluster_purity,
    clustering_scores,
    contingency_matrix,
    knn_accuracy,
    knn_class_scores,
    knn_predict,
    normalized_mutual_info,
)
from .metrics import ClusteringMetric, MultiHeadAccuracy

__all__ = [
    'evaluate_features', 'kmeans_scores', 'adjusted_rand_index',
    'cluster_accuracy', 'cluster_purity', 'clustering_scores',
    'contingency_matrix', 'knn_accuracy', 'knn_class_scores', 'knn_predict',
    'normalized_mutual_info', 'ClusteringMetric', 'MultiHeadAccuracy'
]
