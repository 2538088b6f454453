"""A 2-D map of embeddings (scikit-learn's t-SNE) and its pictures.

t-SNE from scikit-learn rather than UMAP (umap-learn) or openTSNE: it is
maintained, already a dependency of mmodc, and needs no numba JIT; its
Barnes-Hut solver maps a sample of 5,000 points in about half a minute on
two CPU cores, and a picture cannot show more points anyway.
"""
from typing import Optional, Sequence, Tuple

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from .cluster_plots import agg_pyplot

#: Dimensions kept by PCA before t-SNE (scikit-learn's advice: ~50).
PCA_DIM = 50
#: Gradient iterations of t-SNE.
TSNE_ITERATIONS = 500


def embedding_map(embeddings: np.ndarray,
                  max_points: int = 5000,
                  seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """t-SNE coordinates of (a random sample of) the embeddings.

    Args:
        embeddings (np.ndarray): ``N x d`` unit rows.
        max_points (int): Rows mapped at most (a uniform random sample
            beyond). Defaults to 5000.
        seed (int): Seed of the sample, the PCA and t-SNE.

    Returns:
        tuple[np.ndarray, np.ndarray]: The mapped row indices (sorted)
        and their ``n x 2`` coordinates.
    """
    num_rows = embeddings.shape[0]
    rng = np.random.default_rng(seed)
    rows = (np.arange(num_rows) if num_rows <= max_points else np.sort(
        rng.choice(num_rows, max_points, replace=False)))
    points = embeddings[rows]
    if points.shape[1] > PCA_DIM and len(rows) > PCA_DIM:
        points = PCA(PCA_DIM, random_state=seed).fit_transform(points)
    perplexity = min(30.0, (len(rows) - 1) / 3)
    # Euclidean distances of unit rows rank pairs as cosine does; 500
    # iterations instead of 1000 halve the time of a picture that no
    # longer changes visibly
    coords = TSNE(2, perplexity=perplexity, init='pca', random_state=seed,
                  max_iter=TSNE_ITERATIONS).fit_transform(points)
    return rows, coords.astype(np.float32)


def plot_embedding_map(coords: np.ndarray,
                       groups: np.ndarray,
                       path: str,
                       title: str,
                       group_names: Optional[Sequence[str]] = None) -> None:
    """Save the map as a scatter coloured by group (cluster or label).

    Up to 20 groups get their own colour and a legend entry; with more,
    colours repeat and there is no legend.

    Args:
        coords (np.ndarray): ``n x 2`` coordinates.
        groups (np.ndarray): ``n`` group ids.
        path (str): Output PNG.
        title (str): Figure title.
        group_names (Sequence[str], optional): Legend names of the ids.
    """
    plt = agg_pyplot()
    fig, axis = plt.subplots(figsize=(8, 8))
    colours = plt.get_cmap('tab20')(np.asarray(groups) % 20)
    axis.scatter(coords[:, 0], coords[:, 1], c=colours, s=4, linewidths=0)
    present = np.unique(groups)
    if len(present) <= 20:
        for group in present:
            name = group_names[group] if group_names is not None else group
            axis.scatter([], [], color=plt.get_cmap('tab20')(group % 20),
                         label=str(name))
        axis.legend(markerscale=2, fontsize=8, loc='best')
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(table: np.ndarray, class_names: Sequence[str],
                   path: str, title: str) -> None:
    """Save a class x cluster contingency table as a heat map, each
    class's row normalised, clusters ordered by their majority class.

    Args:
        table (np.ndarray): ``C x K`` counts.
        class_names (Sequence[str]): The ``C`` class names.
        path (str): Output PNG.
        title (str): Figure title.
    """
    plt = agg_pyplot()
    order = np.lexsort((-table.max(axis=0), table.argmax(axis=0)))
    shares = table[:, order] / np.maximum(table.sum(axis=1, keepdims=True),
                                          1)
    fig, axis = plt.subplots(
        figsize=(min(4 + 0.25 * table.shape[1], 20),
                 2 + 0.3 * table.shape[0]))
    image = axis.imshow(shares, aspect='auto', cmap='viridis', vmin=0)
    axis.set_yticks(range(len(class_names)), class_names, fontsize=8)
    axis.set_xlabel('cluster (ordered by majority class)')
    if table.shape[1] <= 40:
        axis.set_xticks(range(table.shape[1]), order, fontsize=7)
    fig.colorbar(image, ax=axis, label='share of the class')
    axis.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
