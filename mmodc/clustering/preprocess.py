"""Feature preprocessing before k-means: optional PCA whitening, then L2."""
import math
from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .kmeans import _check_finite, _import_faiss


def _check_pca_dim(pca_dim: int, num_samples: int, dim: int) -> None:
    """Refuse a PCA dimension the features cannot give."""
    if pca_dim < 1:
        raise ValueError(
            f'PCA: pca_dim={pca_dim} must be positive; set '
            'clustering.pca_dim to a positive dimension, or to -1 for no '
            'PCA.')
    if pca_dim > dim:
        raise ValueError(
            f'PCA: pca_dim={pca_dim} is larger than the feature dimension '
            f'({dim}); lower clustering.pca_dim or use -1 for no PCA.')
    if pca_dim >= num_samples:
        # centred, N samples span at most N - 1 dimensions: the last
        # component would be rounding noise scaled up by the whitening
        raise ValueError(
            f'PCA: pca_dim={pca_dim} is not below the number of samples '
            f'({num_samples}), which span at most {num_samples - 1} '
            'dimensions once centred; lower clustering.pca_dim or use -1 '
            'for no PCA.')


def _trained_pca(features: torch.Tensor, pca_dim: int):
    """faiss' whitened PCA (``PCAMatrix`` with eigenvalue power -0.5)
    trained on ``features``: centred, projected, divided by the square root
    of the eigenvalues of the scatter matrix (a sum over rows, not a
    mean)."""
    _check_pca_dim(pca_dim, *features.shape)
    faiss = _import_faiss()
    pca = faiss.PCAMatrix(features.shape[1], pca_dim, -0.5)
    pca.train(_as_array(features))
    return pca


def _as_array(features: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(features.detach().float().cpu().numpy())


def fit_pca(features: torch.Tensor,
            pca_dim: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The whitened PCA of some rows as the affine map faiss applies.

    Args:
        features (torch.Tensor): ``N x d`` features.
        pca_dim (int): Output dimension.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``pca_dim x d`` weight and
        ``pca_dim`` bias (float32, CPU): ``x -> weight @ x + bias``.
    """
    pca = _trained_pca(features, pca_dim)
    to_array = _import_faiss().vector_to_array
    weight = to_array(pca.A).reshape(-1, features.shape[1])[:pca_dim]
    bias = to_array(pca.b)[:pca_dim]
    return torch.from_numpy(weight.copy()), torch.from_numpy(bias.copy())


def _pca_project(features: torch.Tensor, pca_dim: int) -> torch.Tensor:
    """faiss' whitened PCA of ``features`` applied to them, so every output
    column has unit norm, i.e. variance ``1 / N``.

    Args:
        features (torch.Tensor): ``N x d`` features.
        pca_dim (int): Output dimension.

    Returns:
        torch.Tensor: ``N x pca_dim`` float32 features on the CPU.
    """
    pca = _trained_pca(features, pca_dim)
    return torch.from_numpy(pca.apply_py(_as_array(features)))


def pca_whiten(features: torch.Tensor, pca_dim: int) -> torch.Tensor:
    """Project on the top ``pca_dim`` principal components, whitened.

    The output columns have zero mean, unit variance (over the ``N`` rows,
    divided by ``N``) and no correlation.

    Args:
        features (torch.Tensor): ``N x d`` features.
        pca_dim (int): Output dimension, ``1 <= pca_dim <= d`` and
            ``pca_dim < N``.

    Returns:
        torch.Tensor: ``N x pca_dim`` features on the input's device.
    """
    projected = _pca_project(features, pca_dim)
    # faiss leaves unit-norm columns: scale them to unit variance
    projected *= math.sqrt(features.shape[0])
    return projected.to(features.device)


def preprocess_features(features: torch.Tensor,
                        pca_dim: int = -1) -> torch.Tensor:
    """Reduce (if ``pca_dim > 0``) and L2-normalise features for k-means.

    Args:
        features (torch.Tensor): ``N x d`` features.
        pca_dim (int): PCA dimension, or -1 for none.

    Returns:
        torch.Tensor: The unit-norm rows.
    """
    _check_finite(features, 'Clustering: the extracted features')
    if pca_dim > 0:
        # as pca_whiten without its scale to unit variance, which the
        # normalisation undoes (this way the rows are the same bits as
        # those of faiss' PCAMatrix then L2, as in DeepCluster)
        features = _pca_project(features, pca_dim).to(features.device)
    return F.normalize(features, dim=1)
