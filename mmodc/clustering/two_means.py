"""Deterministic 2-means used to split the largest cluster."""
import torch


def split_in_two(features: torch.Tensor,
                 num_iters: int = 20,
                 min_size: int = 1) -> torch.Tensor:
    """Split rows into two groups by 2-means (Lloyd, squared L2) in torch.

    Seeds are chosen deterministically (the row farthest from the mean, then
    the row farthest from it), so every rank computes the same split. If one
    side ends up empty (all rows identical, for example), the rows are split
    in two halves by position. If a side has fewer than ``min_size`` rows,
    the boundary is moved along the direction between the two centres until
    it has ``min_size`` (at most half of the rows).

    Args:
        features (torch.Tensor): ``M x d`` features, ``M >= 2``.
        num_iters (int): Maximum number of Lloyd iterations (it stops early
            when the assignment no longer changes). Defaults to 20.
        min_size (int): Smallest size of each group. Defaults to 1.

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
    total = features.sum(0)
    margin = _margin_to_second(features, centers)
    in_second = margin > 0
    for _ in range(num_iters):
        size_second = in_second.sum()
        sizes = torch.stack([num_rows - size_second, size_second])
        sum_second = in_second.to(features.dtype) @ features
        sums = torch.stack([total - sum_second, sum_second])
        centers = torch.where(sizes.unsqueeze(1) > 0,
                              sums / sizes.clamp(min=1).unsqueeze(1), centers)
        margin = _margin_to_second(features, centers)
        new_in_second = margin > 0
        if torch.equal(new_in_second, in_second):
            break
        in_second = new_in_second
    num_second = int(in_second.sum())
    if num_second in (0, num_rows):
        return torch.arange(num_rows, device=features.device) >= (
            num_rows // 2)
    lower = max(1, min(min_size, num_rows // 2))
    if lower <= num_second <= num_rows - lower:
        return in_second
    # move the boundary: the rows with the largest margin go to the second
    target = min(max(num_second, lower), num_rows - lower)
    order = torch.sort(margin, descending=True, stable=True).indices
    in_second = torch.zeros_like(in_second)
    in_second[order[:target]] = True
    return in_second


def _margin_to_second(features: torch.Tensor,
                      centers: torch.Tensor) -> torch.Tensor:
    """``|x - c0|^2 - |x - c1|^2`` up to the factor 2: positive where the
    second centre is strictly nearer (ties go to the first)."""
    direction = centers[1] - centers[0]
    offset = (centers[1].square().sum() - centers[0].square().sum()) / 2
    return features @ direction - offset
