"""k-means with faiss, as in the reference DeepCluster/ODC clustering."""
from typing import Tuple

import numpy as np
import torch

FAISS_INSTALL_HINT = ('install it with `pip install faiss-cpu` (or a '
                      'faiss-gpu build for CUDA)')


def _import_faiss():
    try:
        import faiss
    except ImportError as error:
        raise ImportError(
            f'mmodc clustering needs faiss, which is not installed '
            f'(import faiss: {error}): {FAISS_INSTALL_HINT}.') from error
    return faiss


def _check_finite(features: torch.Tensor, what: str) -> None:
    """Raise a FloatingPointError that counts and locates NaN and Inf.

    Args:
        features (torch.Tensor): ``N x d`` features.
        what (str): Start of the message, e.g. ``'k-means: the features'``.
    """
    finite = torch.isfinite(features)
    if finite.all():
        return
    num_nan = int(torch.isnan(features).sum())
    num_inf = int((~finite).sum()) - num_nan
    counts = ' and '.join(
        f'{count} {kind}' for count, kind in ((num_nan, 'NaN'),
                                              (num_inf, 'Inf')) if count)
    first_row = int((~finite).reshape(features.shape[0], -1).any(1)
                    .nonzero()[0])
    raise FloatingPointError(
        f'{what} contain NaN or Inf ({counts} of {features.numel()} '
        f'values, first in row {first_row}); the network diverged or the '
        'data is broken: lower the learning rate or check the input data.')


def kmeans(features: torch.Tensor,
           num_clusters: int,
           seed: int = 0,
           num_iters: int = 20) -> Tuple[torch.Tensor, torch.Tensor]:
    """Cluster rows with faiss k-means (squared L2, no subsampling).

    Args:
        features (torch.Tensor): ``N x d`` features (any device).
        num_clusters (int): Number of clusters ``k``.
        seed (int): Seed of the centroid initialisation. Defaults to 0.
        num_iters (int): Lloyd iterations. Defaults to 20.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``N`` int64 labels and the
        ``k x d`` centroids, on the input's device.
    """
    num_samples, dim = features.shape
    if num_clusters > num_samples:
        raise ValueError(
            f'k-means: num_clusters={num_clusters} is larger than the '
            f'number of samples ({num_samples}); lower num_clusters (the '
            '`k` of the clustering config) or cluster more samples.')
    _check_finite(features, 'k-means: the features')
    faiss = _import_faiss()
    data = np.ascontiguousarray(features.detach().float().cpu().numpy())
    clustering = faiss.Kmeans(
        dim,
        num_clusters,
        niter=num_iters,
        seed=seed,
        max_points_per_centroid=10_000_000,
        gpu=features.is_cuda and hasattr(faiss, 'StandardGpuResources'))
    clustering.train(data)
    _, assignment = clustering.index.search(data, 1)
    labels = torch.from_numpy(assignment[:, 0].astype(np.int64))
    centroids = torch.from_numpy(clustering.centroids)
    return labels.to(features.device), centroids.to(features.device)
