"""Figures of a clustering: the cluster-size histogram and a gallery."""
from typing import Optional, Sequence

import numpy as np


def agg_pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def plot_cluster_sizes(labels: np.ndarray,
                       num_clusters: int,
                       path: str,
                       title: str = 'Cluster sizes') -> None:
    """Save a histogram of the cluster sizes and the sizes in sorted order.

    Args:
        labels (np.ndarray): ``N`` cluster ids in ``[0, num_clusters)``.
        num_clusters (int): Number of clusters (empty ones count as 0).
        path (str): Output image file (PNG).
        title (str): Figure title.
    """
    plt = agg_pyplot()
    sizes = np.bincount(np.asarray(labels), minlength=num_clusters)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.hist(sizes, bins=min(50, max(10, num_clusters // 5)),
              color='tab:blue')
    left.set_xlabel('samples per cluster')
    left.set_ylabel('clusters')
    left.set_title(f'{num_clusters} clusters, {len(labels)} samples')
    right.plot(np.sort(sizes)[::-1], color='tab:blue')
    right.set_xlabel('cluster rank')
    right.set_ylabel('samples')
    right.set_yscale('log')
    right.set_title('sizes, largest first')
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_cluster_gallery(images: np.ndarray,
                         labels: np.ndarray,
                         path: str,
                         class_labels: Optional[np.ndarray] = None,
                         class_names: Optional[Sequence[str]] = None,
                         num_rows: int = 12,
                         per_row: int = 10,
                         seed: int = 0) -> None:
    """Save a grid: one row of random members for each of the largest
    clusters.

    Each row is titled with the cluster id, its size and, when the classes
    are known, its majority class and the share of that class.

    Args:
        images (np.ndarray): ``N x H x W`` (grey) or ``N x H x W x 3``
            images, any numeric range.
        labels (np.ndarray): ``N`` cluster ids.
        path (str): Output image file (PNG).
        class_labels (np.ndarray, optional): ``N`` class ids.
        class_names (Sequence[str], optional): Names of the class ids.
        num_rows (int): Number of clusters shown. Defaults to 12.
        per_row (int): Images per cluster. Defaults to 10.
        seed (int): Seed of the member sampling. Defaults to 0.
    """
    plt = agg_pyplot()
    labels = np.asarray(labels)
    sizes = np.bincount(labels)
    clusters = np.argsort(-sizes, kind='stable')[:num_rows]
    clusters = clusters[sizes[clusters] > 0]
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(
        len(clusters),
        per_row,
        figsize=(per_row * 0.9 + 2.6, len(clusters) * 0.95),
        squeeze=False)
    for row, cluster in enumerate(clusters):
        members = np.flatnonzero(labels == cluster)
        shown = rng.choice(members, min(per_row, len(members)),
                           replace=False)
        for col, axis in enumerate(axes[row]):
            axis.axis('off')
            if col < len(shown):
                axis.imshow(images[shown[col]], cmap='gray')
        axes[row][0].text(
            -0.15, 0.5, _row_title(cluster, members, class_labels,
                                   class_names),
            transform=axes[row][0].transAxes, ha='right', va='center',
            fontsize=8)
    fig.subplots_adjust(left=0.2, right=0.99, top=0.99, bottom=0.01,
                        wspace=0.05, hspace=0.1)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _row_title(cluster: int, members: np.ndarray,
               class_labels: Optional[np.ndarray],
               class_names: Optional[Sequence[str]]) -> str:
    """'cluster 7 (n=412)' plus its majority class and share if known."""
    title = f'cluster {cluster} (n={len(members)})'
    if class_labels is None:
        return title
    counts = np.bincount(np.asarray(class_labels)[members])
    major = int(counts.argmax())
    name = class_names[major] if class_names is not None else str(major)
    return f'{title}\n{name} {counts[major] / len(members):.0%}'
