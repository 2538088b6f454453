"""k-means for features spread over the ranks: trained on a sample, every
rank assigning its own rows."""
from typing import Optional, Tuple

import numpy as np
import torch
from mmengine.dist import get_rank, is_main_process

from mmodc.utils import all_gather_cat, broadcast_
from .kmeans import _check_finite, _import_faiss, kmeans

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


def sampled_kmeans(features: torch.Tensor,
                   global_indices: torch.Tensor,
                   num_clusters: int,
                   sample_size: Optional[int] = None,
                   seed: int = 0,
                   num_iters: int = 20
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
    """k-means of rows spread over the ranks, none holding them all.

    Each rank draws its share of a sample of ``sample_size`` rows (in
    proportion to its rows); the sample is gathered in global index order,
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
            ``256 k`` (faiss' own cap per centroid), at most ``N``.
        seed (int): Seed of the sample and of the k-means initialisation.
        num_iters (int): Lloyd iterations.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: This rank's ``n`` int64 labels
        and the ``k x d`` centroids (the same on every rank).
    """
    _check_finite(features, 'k-means: the features')
    total = int(all_gather_cat(torch.tensor([features.shape[0]])).sum())
    sample_size = min(total, sample_size or POINTS_PER_CENTROID * num_clusters)
    if sample_size < num_clusters:
        raise ValueError(
            f'k-means: a sample of {sample_size} rows for {num_clusters} '
            'clusters; raise sample_size (or lower num_clusters).')
    share = round(sample_size * features.shape[0] / total)
    generator = torch.Generator().manual_seed(seed * 100003 + get_rank())
    picked = torch.randperm(features.shape[0], generator=generator)[:share]
    picked = picked.to(features.device)
    sample = all_gather_cat(features[picked].float())
    order = torch.argsort(all_gather_cat(global_indices[picked]))
    centroids = features.new_zeros(num_clusters, features.shape[1],
                                   dtype=torch.float32)
    if is_main_process():
        centroids = kmeans(sample[order], num_clusters, seed=seed,
                           num_iters=num_iters)[1].to(centroids)
    broadcast_(centroids)
    return assign_to_centroids(features, centroids), centroids
