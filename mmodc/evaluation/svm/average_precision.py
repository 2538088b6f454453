"""Average precision of many score columns at once.

Targets follow the VOC convention: ``1`` positive, ``-1`` negative, ``0``
ignored (a "difficult" image). Tied scores form one threshold, as in
scikit-learn's ``precision_recall_curve``.
"""
import torch


def _curve_points(scores: torch.Tensor, targets: torch.Tensor):
    """Recall steps and precisions of every column's PR curve.

    Args:
        scores (torch.Tensor): ``(... x) N x P`` scores.
        targets (torch.Tensor): Same shape, targets in ``{1, 0, -1}``.

    Returns:
        tuple: ``recall_step`` (the recall gained at each curve point, 0
        elsewhere), ``precision`` (the precision at each curve point, 0
        elsewhere), both shaped like ``scores``, and ``num_positives``
        (``(... x) 1 x P``).
    """
    order = scores.argsort(dim=-2, descending=True, stable=True)
    sorted_scores = scores.gather(-2, order)
    sorted_targets = targets.gather(-2, order)
    true_pos = (sorted_targets > 0).double().cumsum(-2)
    false_pos = (sorted_targets < 0).double().cumsum(-2)
    # a curve point closes each group of tied scores
    is_point = torch.ones_like(sorted_scores, dtype=torch.bool)
    is_point[..., :-1, :] = (
        sorted_scores[..., 1:, :] != sorted_scores[..., :-1, :])
    true_pos_at_points = torch.where(is_point, true_pos, 0.)
    previous = torch.cat([
        torch.zeros_like(true_pos[..., :1, :]),
        true_pos_at_points.cummax(dim=-2).values[..., :-1, :]
    ], dim=-2)
    num_positives = true_pos[..., -1:, :]
    recall_step = torch.where(is_point, true_pos - previous,
                              0.) / num_positives
    counted = (true_pos + false_pos).clamp_min(1)
    precision = torch.where(is_point, true_pos / counted, 0.)
    return recall_step, precision, num_positives


def average_precision(scores: torch.Tensor,
                      targets: torch.Tensor,
                      interpolated: bool = False) -> torch.Tensor:
    """AP of every column of ``scores``, ignoring targets equal to 0.

    ``interpolated=False`` is scikit-learn's ``average_precision_score``
    (the sum of recall steps times precision); ``interpolated=True`` takes
    at each step the best precision at that recall or beyond, the VOC
    devkit's area under the monotone curve that the VOC07 SVM benchmark
    reports on the test set.

    Args:
        scores (torch.Tensor): ``N`` or ``(... x) N x P`` scores.
        targets (torch.Tensor): Same shape, values in ``{1, 0, -1}``.
        interpolated (bool): Use the monotone precision envelope.
            Defaults to False.

    Returns:
        torch.Tensor: ``(... x) P`` float64 APs (a scalar for 1-d input); NaN
        for a column without positives.
    """
    if scores.shape != targets.shape:
        raise ValueError(
            f'average_precision: scores of shape {tuple(scores.shape)} but '
            f'targets of shape {tuple(targets.shape)}.')
    if scores.dim() == 1:
        return average_precision(scores[:, None], targets[:, None],
                                 interpolated)[0]
    recall_step, precision, num_positives = _curve_points(
        scores, targets.to(scores.device))
    if interpolated:
        precision = precision.flip(-2).cummax(dim=-2).values.flip(-2)
    ap = (recall_step * precision).sum(-2)
    return torch.where(num_positives[..., 0, :] > 0, ap, torch.nan)
