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
    contingency = torch.bincount(
        labels * num_clusters + reference.to(labels.device),
        minlength=num_clusters * num_clusters).view(num_clusters,
                                                    num_clusters)
    new_ids, old_ids = linear_sum_assignment(contingency.cpu().numpy(),
                                             maximize=True)
    mapping = torch.empty(num_clusters, dtype=torch.long)
    mapping[torch.from_numpy(new_ids)] = torch.from_numpy(old_ids)
    return mapping.to(labels.device)[labels]
