"""Renumber a new clustering after an old one."""
import torch
from scipy.optimize import linear_sum_assignment


def match_clusters(reference: torch.Tensor, labels: torch.Tensor,
                   num_clusters: int) -> torch.Tensor:
    """Give each new cluster the id of the reference cluster it shares the
    most samples with, one to one (the Hungarian matching of the ``K x K``
    contingency table), so that a classifier trained on the reference ids
    still fits the new clusters.

    Args:
        reference (torch.Tensor): ``N`` old cluster ids in ``[0, K)``.
        labels (torch.Tensor): ``N`` new cluster ids in ``[0, K)``.
        num_clusters (int): ``K``.

    Returns:
        torch.Tensor: ``labels`` renumbered, on their device.
    """
    table = contingency_table(reference, labels, num_clusters)
    return renumbering(table).to(labels.device)[labels]


def contingency_table(reference: torch.Tensor, labels: torch.Tensor,
                      num_clusters: int) -> torch.Tensor:
    """How many samples each new cluster shares with each reference one
    (tables of disjoint parts of the samples add up).

    Args:
        reference (torch.Tensor): Old cluster ids in ``[0, K)``.
        labels (torch.Tensor): New cluster ids in ``[0, K)``.
        num_clusters (int): ``K``.

    Returns:
        torch.Tensor: ``K x K`` counts, new ids by row.
    """
    return torch.bincount(
        labels * num_clusters + reference.to(labels.device),
        minlength=num_clusters * num_clusters).view(num_clusters,
                                                    num_clusters)


def renumbering(table: torch.Tensor) -> torch.Tensor:
    """The one-to-one renumbering of new clusters that keeps the most
    samples in their reference cluster (Hungarian matching).

    Args:
        table (torch.Tensor): :func:`contingency_table`.

    Returns:
        torch.Tensor: ``K`` reference ids, one per new id (CPU).
    """
    new_ids, old_ids = linear_sum_assignment(table.cpu().numpy(),
                                             maximize=True)
    mapping = torch.empty(table.shape[0], dtype=torch.long)
    mapping[torch.from_numpy(new_ids)] = torch.from_numpy(old_ids)
    return mapping
