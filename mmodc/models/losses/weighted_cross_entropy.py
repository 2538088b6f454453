"""Class-weighted cross entropy with a weighted-mean reduction."""
from typing import Optional

import torch
import torch.distributed as torch_dist
import torch.nn.functional as F
from mmengine.dist import get_world_size

from mmodc.utils import is_distributed


def weighted_cross_entropy(logits: torch.Tensor,
                           labels: torch.Tensor,
                           class_weight: Optional[torch.Tensor] = None
                           ) -> torch.Tensor:
    """Cross entropy as ``sum_i w_{y_i} l_i / sum_i w_{y_i}``.

    This is ``torch.nn.CrossEntropyLoss(weight=w)``: its scale does not depend
    on the scale of ``w`` (class weights summing to 1 over ``K`` clusters do
    not shrink the loss ``K`` times, as the archived MMSelfSup 1.x loss did).
    Under ``torch.distributed`` the denominator is the mean over ranks, so
    that averaging the ranks' gradients gives the gradient of the weighted
    mean over the global batch.

    Args:
        logits (torch.Tensor): ``B x K`` scores.
        labels (torch.Tensor): ``B`` targets.
        class_weight (torch.Tensor, optional): ``K`` weights; None for the
            plain mean.

    Returns:
        torch.Tensor: The scalar loss.
    """
    losses = F.cross_entropy(logits, labels, reduction='none')
    if class_weight is None:
        weights = torch.ones_like(losses)
    else:
        weights = class_weight.to(losses.dtype)[labels]
    denominator = weights.sum().detach()
    if is_distributed():
        torch_dist.all_reduce(denominator)
        denominator = denominator / get_world_size()
    return (weights * losses).sum() / denominator.clamp(min=1e-12)


def cluster_class_weights(counts: torch.Tensor,
                          power: float = 0.5) -> torch.Tensor:
    """Loss weight ``n_c ** -power`` of every cluster, normalised to sum 1.

    Empty clusters get weight 0 (no sample carries their label).

    Args:
        counts (torch.Tensor): ``K`` cluster sizes.
        power (float): The exponent; 0 gives uniform weights over the
            non-empty clusters. Defaults to 0.5 (``1 / sqrt(n_c)``).

    Returns:
        torch.Tensor: ``K`` float64 weights on the device of ``counts``.
    """
    weights = counts.double().pow(-power).masked_fill_(counts == 0, 0.)
    return weights.div_(weights.sum().clamp(min=1e-12))
