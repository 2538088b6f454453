"""Feature preprocessing before k-means: optional PCA whitening, then L2."""
import numpy as np
import torch
import torch.nn.functional as F

from .kmeans import _import_faiss


def pca_whiten(features: torch.Tensor, pca_dim: int) -> torch.Tensor:
    """Project on the top ``pca_dim`` principal components, whitened.

    Args:
        features (torch.Tensor): ``N x d`` features.
        pca_dim (int): Output dimension.

    Returns:
        torch.Tensor: ``N x pca_dim`` features on the input's device.
    """
    num_samples, dim = features.shape
    if pca_dim > dim or pca_dim > num_samples:
        raise ValueError(
            f'PCA: pca_dim={pca_dim} must not exceed the feature dimension '
            f'({dim}) nor the number of samples ({num_samples}); lower '
            'clustering.pca_dim or use -1 for no PCA.')
    faiss = _import_faiss()
    data = np.ascontiguousarray(features.detach().float().cpu().numpy())
    pca = faiss.PCAMatrix(dim, pca_dim, -0.5)
    pca.train(data)
    return torch.from_numpy(pca.apply_py(data)).to(features.device)


def preprocess_features(features: torch.Tensor,
                        pca_dim: int = -1) -> torch.Tensor:
    """Reduce (if ``pca_dim > 0``) and L2-normalise features for k-means.

    Args:
        features (torch.Tensor): ``N x d`` features.
        pca_dim (int): PCA dimension, or -1 for none.

    Returns:
        torch.Tensor: The unit-norm rows.
    """
    if not torch.isfinite(features).all():
        raise FloatingPointError(
            'Clustering: the extracted features contain NaN or Inf; the '
            'network diverged or the data is broken.')
    if pca_dim > 0:
        features = pca_whiten(features, pca_dim)
    return F.normalize(features, dim=1)
