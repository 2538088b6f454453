"""Deterministic 2-means used to split the largest cluster."""
import torch


def split_in_two(features: torch.Tensor, num_iters: int = 20) -> torch.Tensor:
    """Split rows into two groups by 2-means (Lloyd) in torch.

    Seeds are chosen deterministically (the row farthest from the mean, then
    the row farthest from it), so every rank computes the same split. If one
    side ends up empty, the rows are split in two halves by position.

    Args:
        features (torch.Tensor): ``M x d`` features, ``M >= 2``.
        num_iters (int): Lloyd iterations. Defaults to 20.

    Returns:
        torch.Tensor: Boolean mask of length ``M``: True for the second
        group.
    """
    num_rows = features.shape[0]
    if num_rows < 2:
        raise ValueError(
            f'split_in_two needs at least 2 rows, got {num_rows}.')
    first = features[(features - features.mean(0)).norm(dim=1).argmax()]
    second = features[(features - first).norm(dim=1).argmax()]
    centers = torch.stack([first, second])
    for _ in range(num_iters):
        in_second = _nearest_is_second(features, centers)
        sizes = torch.stack([(~in_second).sum(), in_second.sum()])
        sums = torch.stack([features[~in_second].sum(0),
                            features[in_second].sum(0)])
        centers = torch.where(sizes.unsqueeze(1) > 0,
                              sums / sizes.clamp(min=1).unsqueeze(1), centers)
    in_second = _nearest_is_second(features, centers)
    if bool(in_second.all()) or not bool(in_second.any()):
        in_second = torch.arange(num_rows,
                                 device=features.device) >= num_rows // 2
    return in_second


def _nearest_is_second(features: torch.Tensor,
                       centers: torch.Tensor) -> torch.Tensor:
    return torch.cdist(features, centers).argmin(dim=1) == 1
