from .clustering_metrics import (
                                 adjusted_rand_index,
                                 cluster_accuracy,
                                 cluster_purity,
                                 clustering_scores,
                                 contingency_matrix,
                                 normalized_mutual_info,
)
from .knn import knn_accuracy, knn_class_scores, knn_predict
from .run_statistics import mean_and_std

__all__ = [
    'adjusted_rand_index', 'cluster_accuracy', 'cluster_purity',
    'clustering_scores', 'contingency_matrix', 'normalized_mutual_info',
    'knn_accuracy', 'knn_class_scores', 'knn_predict', 'mean_and_std'
]
