"""Clustering quality against ground-truth classes: NMI, ARI, ACC, purity.

NMI, ARI and the contingency table come from scikit-learn; this module
checks the inputs (1-d integer ids of equal length, torch or numpy) and adds
the matched accuracy (scipy's Hungarian solver) and purity.
"""
from typing import Dict, Tuple, Union

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as sk_metrics

ArrayLike = Union[np.ndarray, torch.Tensor, list]


def _as_labels(labels: ArrayLike, name: str) -> np.ndarray:
    """Convert labels to a 1-d int64 numpy array of non-negative ids."""
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(
            f'{name} must be one label per sample (1-d), got shape '
            f'{labels.shape}.')
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f'{name} must hold integer ids, got {labels.dtype}.')
    return labels.astype(np.int64, copy=False)


def _label_pair(labels_true: ArrayLike,
                labels_pred: ArrayLike) -> Tuple[np.ndarray, np.ndarray]:
    """Check and convert a (classes, clusters) pair of labelings."""
    true = _as_labels(labels_true, 'labels_true')
    pred = _as_labels(labels_pred, 'labels_pred')
    if true.shape != pred.shape:
        raise ValueError(
            f'labels_true has {true.size} samples but labels_pred has '
            f'{pred.size}.')
    if true.size == 0:
        raise ValueError('Clustering metrics need at least one sample.')
    return true, pred


def contingency_matrix(labels_true: ArrayLike,
                       labels_pred: ArrayLike) -> np.ndarray:
    """Count the samples of every (class, cluster) pair.

    The ids are compacted first, so they need not be contiguous.

    Args:
        labels_true (array-like): ``N`` ground-truth class ids.
        labels_pred (array-like): ``N`` cluster ids.

    Returns:
        np.ndarray: ``C x K`` int64 counts (``C`` distinct classes, ``K``
        distinct clusters).
    """
    true, pred = _label_pair(labels_true, labels_pred)
    return sk_metrics.cluster.contingency_matrix(true, pred).astype(np.int64)


def normalized_mutual_info(labels_true: ArrayLike,
                           labels_pred: ArrayLike) -> float:
    """Normalised mutual information, arithmetic-mean normalisation.

    ``NMI = I(Y; Z) / ((H(Y) + H(Z)) / 2)``: scikit-learn's
    ``normalized_mutual_info_score`` after the input checks. Two
    single-cluster labelings give 1.

    Args:
        labels_true (array-like): ``N`` ground-truth class ids.
        labels_pred (array-like): ``N`` cluster ids.

    Returns:
        float: NMI in ``[0, 1]``.
    """
    true, pred = _label_pair(labels_true, labels_pred)
    return float(sk_metrics.normalized_mutual_info_score(true, pred))


def adjusted_rand_index(labels_true: ArrayLike,
                        labels_pred: ArrayLike) -> float:
    """Adjusted Rand index (Hubert and Arabie): 0 for chance, 1 for equal.

    scikit-learn's ``adjusted_rand_score`` after the input checks.

    Args:
        labels_true (array-like): ``N`` ground-truth class ids.
        labels_pred (array-like): ``N`` cluster ids.

    Returns:
        float: ARI in ``[-1, 1]``.
    """
    true, pred = _label_pair(labels_true, labels_pred)
    return float(sk_metrics.adjusted_rand_score(true, pred))


def cluster_accuracy(labels_true: ArrayLike, labels_pred: ArrayLike) -> float:
    """Accuracy under the best one-to-one matching of clusters to classes.

    The matching maximises the number of correctly labelled samples
    (Hungarian algorithm on the contingency table). With more clusters than
    classes, the unmatched clusters count as errors.

    Args:
        labels_true (array-like): ``N`` ground-truth class ids.
        labels_pred (array-like): ``N`` cluster ids.

    Returns:
        float: Accuracy in ``[0, 1]``.
    """
    table = contingency_matrix(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / table.sum())


def cluster_purity(labels_true: ArrayLike, labels_pred: ArrayLike) -> float:
    """Accuracy when every cluster predicts its majority class.

    Unlike :func:`cluster_accuracy`, many clusters may map to one class, so
    this suits over-clustering (e.g. ODC's hundreds of clusters).

    Args:
        labels_true (array-like): ``N`` ground-truth class ids.
        labels_pred (array-like): ``N`` cluster ids.

    Returns:
        float: Purity in ``[0, 1]``.
    """
    table = contingency_matrix(labels_true, labels_pred)
    return float(table.max(axis=0).sum() / table.sum())


def clustering_scores(labels_true: ArrayLike,
                      labels_pred: ArrayLike) -> Dict[str, float]:
    """NMI, ARI, ACC and purity of one clustering.

    Args:
        labels_true (array-like): ``N`` ground-truth class ids.
        labels_pred (array-like): ``N`` cluster ids.

    Returns:
        dict[str, float]: Keys ``nmi``, ``ari``, ``acc``, ``purity``.
    """
    return dict(
        nmi=normalized_mutual_info(labels_true, labels_pred),
        ari=adjusted_rand_index(labels_true, labels_pred),
        acc=cluster_accuracy(labels_true, labels_pred),
        purity=cluster_purity(labels_true, labels_pred))
