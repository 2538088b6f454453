"""PCA and k-means for features spread over the ranks: fitted on a sample,
every rank projecting and assigning its own rows."""
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dist import get_rank, is_main_process

from mmodc.utils import all_gather_cat, broadcast_
from .kmeans import _check_finite, _import_faiss, kmeans
from .preprocess import fit_pca

#: Rows per faiss search in :func:`assign_to_centroids`.
ASSIGN_CHUNK = 65536
#: faiss' own cap on training points per centroid: the default sample.
POINTS_PER_CENTROID = 256


def assign_to_centroids(features: torch.Tensor,
                        centroids: torch.Tensor) -> torch.Tensor:
    """Nearest centroid (squared L2, faiss' exact search, as
    :func:`mmodc.clustering.kmeans` assigns) of every row, in chunks.

    Args:
        features (torch.Tensor): ``M x d`` rows.
        centroids (torch.Tensor): ``k x d``.

    Returns:
        torch.Tensor: ``M`` int64 labels on the rows' device.
    """
    faiss = _import_faiss()
    index = faiss.IndexFlatL2(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids.float().cpu().numpy()))
    labels = [
        torch.from_numpy(index.search(np.ascontiguousarray(
            chunk.float().cpu().numpy()), 1)[1][:, 0].astype(np.int64))
        for chunk in features.split(ASSIGN_CHUNK)
    ]
    result = torch.cat(labels) if labels else torch.empty(0, dtype=torch.long)
    return result.to(features.device)


def default_sample_size(num_clusters: int) -> int:
    """The default sample of :func:`sampled_kmeans`: ``256 k`` rows,
    faiss' own cap on training points per centroid.

    Args:
        num_clusters (int): ``k``.

    Returns:
        int: Rows.
    """
    return POINTS_PER_CENTROID * num_clusters


def sample_rows(features: torch.Tensor, global_indices: torch.Tensor,
                sample_size: int, seed: int) -> torch.Tensor:
    """A sample of rows spread over the ranks, on every rank, in global
    index order.

    Each rank draws its share (in proportion to its rows) with a generator
    seeded by ``seed`` and its rank, so calls with the same arguments pick
    the same rows.

    Args:
        features (torch.Tensor): This rank's ``n x d`` rows.
        global_indices (torch.Tensor): Their indices in the whole set.
        sample_size (int): Rows in the whole sample (at most ``N``).
        seed (int): Seed of the draw.

    Returns:
        torch.Tensor: ``sample_size x d`` float32 rows (about: each rank's
        share is rounded).
    """
    total = int(all_gather_cat(torch.tensor([features.shape[0]])).sum())
    share = round(min(sample_size, total) * features.shape[0] / total)
    generator = torch.Generator().manual_seed(seed * 100003 + get_rank())
    picked = torch.randperm(features.shape[0], generator=generator)[:share]
    picked = picked.to(features.device)
    sample = all_gather_cat(features[picked].float())
    return sample[torch.argsort(all_gather_cat(global_indices[picked]))]


def sampled_preprocess(features: torch.Tensor, global_indices: torch.Tensor,
                       pca_dim: int, sample_size: int,
                       seed: int = 0) -> torch.Tensor:
    """:func:`mmodc.clustering.preprocess_features` for rows spread over the
    ranks: the whitened PCA is fitted on a sample (rank 0, faiss, then
    broadcast) and every rank projects its own rows, then L2.

    The sample is the one :func:`sampled_kmeans` draws with the same
    ``sample_size`` and ``seed``. Whitening by the sample's eigenvalues
    instead of all rows' scales every column alike, which the L2
    normalisation undoes.

    Args:
        features (torch.Tensor): This rank's ``n x d`` rows.
        global_indices (torch.Tensor): Their indices in the whole set.
        pca_dim (int): PCA dimension, or -1 for none.
        sample_size (int): Rows the PCA is fitted on.
        seed (int): Seed of the sample.

    Returns:
        torch.Tensor: This rank's unit-norm rows.
    """
    _check_finite(features, 'Clustering: the extracted features')
    if pca_dim > 0:
        sample = sample_rows(features, global_indices, sample_size, seed)
        weight = features.new_zeros(pca_dim, features.shape[1],
                                    dtype=torch.float32)
        bias = features.new_zeros(pca_dim, dtype=torch.float32)
        if is_main_process():
            fitted_weight, fitted_bias = fit_pca(sample, pca_dim)
            weight.copy_(fitted_weight)
            bias.copy_(fitted_bias)
        broadcast_(weight)
        broadcast_(bias)
        features = torch.addmm(bias, features.float(), weight.T)
    return F.normalize(features, dim=1)


def sampled_kmeans(features: torch.Tensor,
                   global_indices: torch.Tensor,
                   num_clusters: int,
                   sample_size: Optional[int] = None,
                   seed: int = 0,
                   num_iters: int = 20
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
    """k-means of rows spread over the ranks, none holding them all.

    The sample (:func:`sample_rows`) is gathered in global index order,
    rank 0 trains faiss k-means on it and broadcasts the centroids, and
    every rank assigns its own rows. Memory per rank: its rows, the sample
    and the centroids. With ``sample_size >= N`` the result is that of
    :func:`mmodc.clustering.kmeans` on all rows in index order.

    Args:
        features (torch.Tensor): This rank's ``n x d`` rows.
        global_indices (torch.Tensor): Their indices in the whole set
            (distinct over the ranks).
        num_clusters (int): ``k``.
        sample_size (int, optional): Rows to train on. Defaults to
            :func:`default_sample_size`, at most ``N``.
        seed (int): Seed of the sample and of the k-means initialisation.
        num_iters (int): Lloyd iterations.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: This rank's ``n`` int64 labels
        and the ``k x d`` centroids (the same on every rank).
    """
    _check_finite(features, 'k-means: the features')
    sample = sample_rows(features, global_indices,
                         sample_size or default_sample_size(num_clusters),
                         seed)
    if sample.shape[0] < num_clusters:
        raise ValueError(
            f'k-means: a sample of {sample.shape[0]} rows for '
            f'{num_clusters} clusters; raise sample_size (or lower '
            'num_clusters).')
    centroids = features.new_zeros(num_clusters, features.shape[1],
                                   dtype=torch.float32)
    if is_main_process():
        centroids = kmeans(sample, num_clusters, seed=seed,
                           num_iters=num_iters)[1].to(centroids)
    broadcast_(centroids)
    return assign_to_centroids(features, centroids), centroids
