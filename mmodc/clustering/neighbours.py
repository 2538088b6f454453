"""Cosine neighbours, near-duplicate pairs and typicality inside clusters,
with faiss's exact inner-product search on unit-length embeddings."""
from typing import Tuple

import numpy as np
import torch

from .kmeans import _import_faiss

#: Rows of queries per range search: bounds the memory of one search.
QUERY_CHUNK = 4096


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), float32.

    Args:
        features (np.ndarray): ``N x d`` features.

    Returns:
        np.ndarray: ``N x d`` C-contiguous float32 rows.
    """
    features = np.ascontiguousarray(features, dtype=np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return np.ascontiguousarray(features / np.maximum(norms, 1e-12))


def inner_product_index(embeddings: np.ndarray):
    """A faiss exact inner-product index holding the rows.

    Args:
        embeddings (np.ndarray): ``N x d`` unit float32 rows.

    Returns:
        faiss.IndexFlatIP: The index.
    """
    index = _import_faiss().IndexFlatIP(embeddings.shape[1])
    index.add(embeddings)
    return index


def nearest_neighbours(embeddings: np.ndarray,
                       k: int) -> Tuple[np.ndarray, np.ndarray]:
    """The ``k`` most similar other rows of every row (cosine).

    Args:
        embeddings (np.ndarray): ``N x d`` unit float32 rows.
        k (int): Neighbours per row (at most ``N - 1``).

    Returns:
        tuple[np.ndarray, np.ndarray]: ``N x k`` int64 indices and their
        float32 similarities, most similar first.
    """
    num_rows = embeddings.shape[0]
    if not 0 < k < num_rows:
        raise ValueError(f'{k} neighbours need more than {k} images, got '
                         f'{num_rows}; ask for fewer neighbours.')
    similarities, indices = inner_product_index(embeddings).search(
        embeddings, k + 1)
    # drop the row itself; an exact duplicate may rank before it, and
    # where ties push it out of the k + 1, drop the last instead
    is_self = indices == np.arange(num_rows)[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    keep = ~is_self
    return (indices[keep].reshape(num_rows, k),
            similarities[keep].reshape(num_rows, k))


def similar_pairs(embeddings: np.ndarray,
                  threshold: float) -> Tuple[np.ndarray, np.ndarray]:
    """Every pair of rows whose cosine similarity is at least
    ``threshold`` (faiss range search), most similar first.

    Args:
        embeddings (np.ndarray): ``N x d`` unit float32 rows.
        threshold (float): The similarity, in ``(-1, 1]``.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``M x 2`` int64 pairs ``(i, j)``
        with ``i < j`` and their ``M`` float32 similarities.
    """
    if not -1 < threshold <= 1:
        raise ValueError(
            f'duplicate threshold {threshold} is not a cosine similarity '
            'in (-1, 1]; use e.g. 0.95.')
    index = inner_product_index(embeddings)
    # faiss keeps similarities strictly above its radius
    radius = np.nextafter(np.float32(threshold), np.float32(-2))
    pairs, scores = [], []
    for start in range(0, embeddings.shape[0], QUERY_CHUNK):
        limits, similarities, neighbours = index.range_search(
            embeddings[start:start + QUERY_CHUNK], float(radius))
        rows = start + np.repeat(np.arange(len(limits) - 1),
                                 np.diff(limits).astype(np.int64))
        later = neighbours > rows
        pairs.append(np.stack([rows[later], neighbours[later]], axis=1))
        scores.append(similarities[later])
    pairs = np.concatenate(pairs).astype(np.int64)
    scores = np.concatenate(scores).astype(np.float32)
    order = np.lexsort((pairs[:, 1], pairs[:, 0], -scores))
    return pairs[order], scores[order]


def cluster_means(embeddings: np.ndarray, labels: np.ndarray,
                  num_clusters: int) -> np.ndarray:
    """The mean row of every cluster (zero for an empty one).

    Args:
        embeddings (np.ndarray): ``N x d`` rows.
        labels (np.ndarray): ``N`` cluster ids in ``[0, num_clusters)``.
        num_clusters (int): ``K``.

    Returns:
        np.ndarray: ``K x d`` float32 means.
    """
    sums = torch.zeros(num_clusters, embeddings.shape[1], dtype=torch.float64)
    sums.index_add_(0, torch.from_numpy(labels),
                    torch.from_numpy(embeddings).double())
    counts = np.bincount(labels, minlength=num_clusters)
    return (sums.numpy() / np.maximum(counts, 1)[:, None]).astype(np.float32)


def centroid_similarities(embeddings: np.ndarray, labels: np.ndarray,
                          centroids: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row to the centroid of its cluster.

    Args:
        embeddings (np.ndarray): ``N x d`` unit rows.
        labels (np.ndarray): ``N`` cluster ids.
        centroids (np.ndarray): ``K x d`` centroids (any length).

    Returns:
        np.ndarray: ``N`` float32 similarities.
    """
    directions = unit_rows(centroids)
    return np.einsum('nd,nd->n', embeddings,
                     directions[labels]).astype(np.float32)


def ranks_within_clusters(labels: np.ndarray,
                          scores: np.ndarray) -> np.ndarray:
    """Rank of every row inside its cluster, highest score first (0-based;
    ties by row order).

    Args:
        labels (np.ndarray): ``N`` cluster ids.
        scores (np.ndarray): ``N`` scores (e.g. centroid similarities).

    Returns:
        np.ndarray: ``N`` int64 ranks.
    """
    order = np.lexsort((np.arange(len(labels)), -scores, labels))
    sorted_labels = labels[order]
    is_first = np.r_[True, sorted_labels[1:] != sorted_labels[:-1]]
    first_position = np.maximum.accumulate(
        np.where(is_first, np.arange(len(order)), 0))
    ranks = np.empty(len(labels), dtype=np.int64)
    ranks[order] = np.arange(len(order)) - first_position
    return ranks
