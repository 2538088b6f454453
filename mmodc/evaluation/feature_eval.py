"""Score a set of features: k-means clustering quality and kNN accuracy."""
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from mmodc.clustering import kmeans, preprocess_features
from .functional import clustering_scores, knn_accuracy, mean_and_std


def kmeans_scores(features: torch.Tensor,
                  labels: np.ndarray,
                  num_clusters: int = 10,
                  seeds: Sequence[int] = (0, )) -> Dict[str, float]:
    """k-means on L2-normalised features, scored against the classes.

    One k-means (faiss, 20 iterations) per seed; the scores are averaged
    over the seeds and their standard deviations are returned too.

    Args:
        features (torch.Tensor): ``N x d`` features.
        labels (np.ndarray): ``N`` ground-truth class ids.
        num_clusters (int): ``k``. Defaults to 10.
        seeds (Sequence[int]): Seeds of the k-means runs. Defaults to (0,).

    Returns:
        dict[str, float]: ``nmi``, ``ari``, ``acc``, ``purity`` (means) and
        ``nmi_std``, ``ari_std``, ``acc_std``, ``purity_std``.
    """
    if not seeds:
        raise ValueError('kmeans_scores: give at least one seed.')
    features = preprocess_features(features.float(), -1)
    runs = []
    for seed in seeds:
        assignment, _ = kmeans(features, num_clusters, seed=int(seed))
        runs.append(clustering_scores(labels, assignment.cpu().numpy()))
    result = {}
    for key in runs[0]:
        result[key], result[f'{key}_std'] = mean_and_std(
            [run[key] for run in runs])
    return result


def evaluate_features(train_features: torch.Tensor,
                      train_labels: np.ndarray,
                      test_features: Optional[torch.Tensor] = None,
                      test_labels: Optional[np.ndarray] = None,
                      num_clusters: int = 10,
                      kmeans_seeds: Sequence[int] = (0, ),
                      knn_k: int = 20,
                      knn_temperature: Optional[float] = 0.07
                      ) -> Dict[str, float]:
    """k-means scores on the training features and kNN top-1 on the test set.

    Args:
        train_features (torch.Tensor): ``N x d`` training features.
        train_labels (np.ndarray): ``N`` class ids.
        test_features (torch.Tensor, optional): ``M x d`` test features;
            without them no kNN accuracy is computed.
        test_labels (np.ndarray, optional): ``M`` class ids.
        num_clusters (int): ``k`` of k-means. Defaults to 10.
        kmeans_seeds (Sequence[int]): Seeds of the k-means runs.
        knn_k (int): Neighbours of the kNN classifier. Defaults to 20.
        knn_temperature (float, optional): Vote temperature; None for a
            majority vote. Defaults to 0.07.

    Returns:
        dict[str, float]: The :func:`kmeans_scores` keys, ``dim`` and (with
        a test set) ``knn_top1``.
    """
    scores = dict(dim=int(train_features.shape[1]))
    scores.update(
        kmeans_scores(train_features, train_labels, num_clusters,
                      kmeans_seeds))
    if test_features is not None:
        if test_labels is None:
            raise ValueError('evaluate_features: test_features were given '
                             'without test_labels.')
        scores['knn_top1'] = knn_accuracy(
            train_features,
            torch.as_tensor(train_labels),
            test_features,
            torch.as_tensor(test_labels),
            k=knn_k,
            temperature=knn_temperature)[0]
    return scores
