"""Renumber a new clustering after an old one."""
import torch
from scipy.optimize import linear_sum_assignment


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
    samples in their reference cluster (Hungarian matching), so that a
    classifier trained on the reference ids still fits the new clusters:
    ``renumbering(table)[labels]``.

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
