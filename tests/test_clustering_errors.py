"""Clear errors of the clustering functions, and what they promise."""
import sys

import pytest
import torch

from mmodc.clustering import kmeans, pca_whiten, preprocess_features


def anisotropic(num_samples: int = 2000, dim: int = 16,
                seed: int = 0) -> torch.Tensor:
    """Correlated features whose variances span 0.01 to 100."""
    gen = torch.Generator().manual_seed(seed)
    scales = torch.logspace(1, -1, dim)
    rotation, _ = torch.linalg.qr(torch.randn(dim, dim, generator=gen))
    return (torch.randn(num_samples, dim, generator=gen) * scales
            @ rotation + 3.0)


def blobs(num_blobs: int, per_blob: int, dim: int = 8, seed: int = 0):
    """Well separated clusters: unit-spread noise around centres 20 apart.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: The features and the true blob
        of every row.
    """
    gen = torch.Generator().manual_seed(seed)
    centres = 20 * torch.eye(num_blobs, dim)
    truth = torch.arange(num_blobs).repeat_interleave(per_blob)
    features = centres[truth] + torch.randn(
        len(truth), dim, generator=gen)
    return features, truth


# ------------------------------------------------- k-means and PCA sizes
@pytest.mark.parametrize('call, fragments', [
    (lambda: kmeans(torch.randn(5, 3), 6),
     ['num_clusters=6', 'number of samples (5)', 'lower num_clusters',
      'or cluster more samples']),
    (lambda: preprocess_features(torch.randn(50, 8), 16),
     ['pca_dim=16', 'feature dimension (8)',
      'lower clustering.pca_dim or use -1 for no PCA']),
    # centred, 4 samples span 3 dimensions: a 4th would be whitened noise
    (lambda: pca_whiten(torch.randn(4, 8), 6),
     ['pca_dim=6', 'number of samples (4)', 'at most 3 dimensions',
      'lower clustering.pca_dim or use -1 for no PCA']),
    (lambda: pca_whiten(torch.randn(4, 8), 4),
     ['pca_dim=4', 'number of samples (4)', 'at most 3 dimensions']),
    (lambda: pca_whiten(torch.randn(20, 8), 0),
     ['pca_dim=0 must be positive', 'or to -1 for no PCA']),
], ids=['k_above_n', 'pca_above_dim', 'pca_above_n', 'pca_equal_n',
        'pca_zero'])
def test_bad_sizes_name_the_value_and_the_fix(call, fragments):
    with pytest.raises(ValueError) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value)


# ---------------------------------------------------------- faiss missing
@pytest.mark.parametrize('call', [
    lambda: kmeans(torch.randn(20, 3), 2),
    lambda: pca_whiten(torch.randn(20, 8), 4),
    lambda: preprocess_features(torch.randn(20, 8), 4),
], ids=['kmeans', 'pca_whiten', 'preprocess_features'])
def test_missing_faiss_says_how_to_install_it(monkeypatch, call):
    # None in sys.modules makes `import faiss` raise ImportError
    monkeypatch.setitem(sys.modules, 'faiss', None)
    with pytest.raises(ImportError) as info:
        call()
    message = str(info.value)
    assert 'needs faiss' in message
    assert 'pip install faiss-cpu' in message


# ------------------------------------------------------ non-finite values
@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')],
                         ids=['nan', 'inf', '-inf'])
@pytest.mark.parametrize('call, prefix', [
    (lambda x: kmeans(x, 2), 'k-means: the features'),
    (lambda x: preprocess_features(x), 'Clustering: the extracted features'),
    (lambda x: preprocess_features(x, 2), 'Clustering: the extracted'),
], ids=['kmeans', 'preprocess', 'preprocess_pca'])
def test_non_finite_features(call, prefix, bad):
    features = torch.randn(10, 4)
    features[3, 1] = bad
    features[7, 0] = bad
    with pytest.raises(FloatingPointError) as info:
        call(features)
    message = str(info.value)
    assert message.startswith(prefix)
    kind = 'NaN' if bad != bad else 'Inf'
    # names what is wrong and where, then what to do
    assert f'2 {kind} of 40 values' in message
    assert 'first in row 3' in message
    assert 'lower the learning rate' in message
    assert 'check the input data' in message


# ---------------------------------------------------- what the tools do
def test_preprocess_with_pca_gives_unit_rows_of_pca_dim():
    out = preprocess_features(anisotropic(), 6)
    assert out.shape == (2000, 6)
    assert torch.allclose(out.norm(dim=1), torch.ones(2000), atol=1e-5)


def test_pca_whiten_gives_uncorrelated_unit_variance_columns():
    features = anisotropic()
    # not white to begin with: the top variance is far from 1
    top_variance = torch.linalg.eigvalsh(torch.cov(features.T))[-1]
    assert top_variance > 50
    out = pca_whiten(features, 6).double()
    assert out.shape == (2000, 6)
    assert torch.allclose(out.mean(0), torch.zeros(6, dtype=torch.double),
                          atol=1e-3)
    covariance = torch.cov(out.T, correction=0)
    assert torch.allclose(covariance, torch.eye(6, dtype=torch.double),
                          atol=1e-3)


def test_kmeans_is_deterministic_for_a_seed():
    features = torch.randn(300, 8, generator=torch.Generator().manual_seed(1))
    labels, centroids = kmeans(features, 5, seed=3)
    labels_again, centroids_again = kmeans(features, 5, seed=3)
    assert labels.dtype == torch.int64 and labels.shape == (300, )
    assert centroids.shape == (5, 8)
    assert torch.equal(labels, labels_again)
    assert torch.equal(centroids, centroids_again)


def test_kmeans_recovers_well_separated_blobs():
    # two blobs: faiss initialises with k random rows and runs Lloyd once,
    # so with more blobs an unlucky seed can merge two of them
    features, truth = blobs(num_blobs=2, per_blob=100)
    for seed in range(5):
        labels, _ = kmeans(features, 2, seed=seed)
        # the same partition up to a permutation of the cluster ids
        pairs = set(zip(labels.tolist(), truth.tolist()))
        assert len(pairs) == 2 and len({label for label, _ in pairs}) == 2
