"""Clustering quality against ground-truth classes: NMI, ARI, ACC, purity.

All metrics are computed from one contingency table (classes x clusters),
so each costs a single pass over the labels.
"""
from typing import Dict, Union

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

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
    true = _as_labels(labels_true, 'labels_true')
    pred = _as_labels(labels_pred, 'labels_pred')
    if true.shape != pred.shape:
        raise ValueError(
            f'labels_true has {true.size} samples but labels_pred has '
            f'{pred.size}.')
    if true.size == 0:
        raise ValueError('Clustering metrics need at least one sample.')
    classes, true_ids = np.unique(true, return_inverse=True)
    clusters, pred_ids = np.unique(pred, return_inverse=True)
    flat = true_ids * len(clusters) + pred_ids
    counts = np.bincount(flat, minlength=len(classes) * len(clusters))
    return counts.reshape(len(classes), len(clusters))


def _entropy(counts: np.ndarray) -> float:
    """Shannon entropy (nats) of a distribution given by counts."""
    probs = counts[counts > 0] / counts.sum()
    return float(-(probs * np.log(probs)).sum())


def _mutual_information(table: np.ndarray) -> float:
    """Mutual information (nats) of the two labelings of a table."""
    total = table.sum()
    rows, cols = np.nonzero(table)
    joint = table[rows, cols] / total
    row_marginal = table.sum(axis=1)[rows] / total
    col_marginal = table.sum(axis=0)[cols] / total
    return float((joint * np.log(joint /
                                 (row_marginal * col_marginal))).sum())


def normalized_mutual_info(labels_true: ArrayLike,
                           labels_pred: ArrayLike) -> float:
    """Normalised mutual information, arithmetic-mean normalisation.

    ``NMI = I(Y; Z) / ((H(Y) + H(Z)) / 2)``, as scikit-learn's default. Two
    single-cluster labelings give 1.

    Args:
        labels_true (array-like): ``N`` ground-truth class ids.
        labels_pred (array-like): ``N`` cluster ids.

    Returns:
        float: NMI in ``[0, 1]``.
    """
    table = contingency_matrix(labels_true, labels_pred)
    if table.shape[0] == table.shape[1] == 1:
        return 1.0
    h_true = _entropy(table.sum(axis=1))
    h_pred = _entropy(table.sum(axis=0))
    normaliser = (h_true + h_pred) / 2
    if normaliser <= 0:
        return 0.0
    nmi = _mutual_information(table) / normaliser
    return float(min(max(nmi, 0.0), 1.0))


def adjusted_rand_index(labels_true: ArrayLike,
                        labels_pred: ArrayLike) -> float:
    """Adjusted Rand index (Hubert and Arabie): 0 for chance, 1 for equal.

    Args:
        labels_true (array-like): ``N`` ground-truth class ids.
        labels_pred (array-like): ``N`` cluster ids.

    Returns:
        float: ARI in ``[-1, 1]``.
    """
    table = contingency_matrix(labels_true, labels_pred).astype(np.float64)
    num_samples = table.sum()

    def pairs(values: np.ndarray) -> float:
        return float((values * (values - 1) / 2).sum())

    sum_cells = pairs(table)
    sum_rows = pairs(table.sum(axis=1))
    sum_cols = pairs(table.sum(axis=0))
    expected = sum_rows * sum_cols / (num_samples * (num_samples - 1) / 2) \
        if num_samples > 1 else 0.0
    maximum = (sum_rows + sum_cols) / 2
    if maximum == expected:
        # Both labelings are trivial in the same way (e.g. identical
        # single clusters or all singletons): perfect agreement.
        return 1.0
    return float((sum_cells - expected) / (maximum - expected))


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
