"""Fit SVMs for every class and cost, with k-fold cross-validation, at once.

The folds are stratified per class and not shuffled: the positives and the
negatives of each class are each cut into contiguous blocks, in sample
order (scikit-learn's ``KFold`` applied to each label, which is what
``StratifiedKFold(3)`` behind the reference's ``cross_val_score`` did in the
scikit-learn of its time; newer versions deal one label round-robin, so
fold membership, not fold sizes, can differ slightly).
Each fold's problems are the full problems with the held-out samples given
a cost of 0, so the folds, the classes, the costs and the final fit on all
samples are columns of one batched solve.
"""
from typing import Sequence, Tuple

import torch

from .average_precision import average_precision
from .squared_hinge_svm import squared_hinge_svms


def stratified_folds(targets: torch.Tensor, num_folds: int) -> torch.Tensor:
    """Fold id of every sample, per class, stratified by its label.

    Args:
        targets (torch.Tensor): ``(G x) m x L`` labels, +1 or -1.
        num_folds (int): Number of folds.

    Returns:
        torch.Tensor: ``(G x) m x L`` fold ids in ``[0, num_folds)``.

    Raises:
        ValueError: If a class has fewer positives or negatives than folds.
    """
    folds = torch.zeros_like(targets, dtype=torch.long)
    for sign in (1, -1):
        members = (targets == sign).long()
        count = members.sum(-2, keepdim=True)
        if bool((count < num_folds).any()):
            kind = 'positives' if sign == 1 else 'negatives'
            raise ValueError(
                f'{num_folds}-fold cross-validation needs at least '
                f'{num_folds} {kind} per class; some class has '
                f'{int(count.min())}.')
        rank = members.cumsum(-2) - 1
        folds += members * (rank * num_folds // count)
    return folds


def fit_with_cross_validation(
        gram: torch.Tensor,
        targets: torch.Tensor,
        costs: Sequence[float],
        num_folds: int,
        positive_weight: float = 2.0,
        **solver_options) -> Tuple[torch.Tensor, torch.Tensor]:
    """Cross-validated AP of every (class, cost) and the final fits.

    Args:
        gram (torch.Tensor): ``(G x) m x m`` Gram matrices with the bias
            (``X X^T + 1``).
        targets (torch.Tensor): ``(G x) m x L`` labels, +1 or -1.
        costs (Sequence[float]): The ``C`` values.
        num_folds (int): Folds; below 2 no cross-validation is run (the AP
            is NaN).
        positive_weight (float): Class weight of the positives (negatives
            weigh 1), LinearSVC's ``class_weight={1: w, -1: 1}``.
        **solver_options: Passed to :func:`fit_fixed_costs`.

    Returns:
        tuple: ``cv_ap`` (``(G x) L x len(costs)``, mean AP over the
        held-out folds, as scikit-learn's ``average_precision``) and
        ``beta`` (``(G x) m x L x len(costs)``, the coefficients of the
        fits on all samples).
    """
    weights = torch.where(targets > 0, positive_weight, 1.).to(gram.dtype)
    if num_folds < 2:
        beta = squared_hinge_svms(gram, targets, weights, costs,
                                  **solver_options)
        cv_ap = beta.new_full(beta.shape[:-3] + beta.shape[-2:], torch.nan)
        return cv_ap, beta
    folds = stratified_folds(targets, num_folds)
    held_out = folds.unsqueeze(-2) == torch.arange(
        num_folds, device=folds.device).view(-1, 1)  # (G x) m x F x L
    fold_weights = torch.cat(
        [weights.unsqueeze(-2) * ~held_out,
         weights.unsqueeze(-2)], dim=-2)  # the last "fold" holds out none
    beta = squared_hinge_svms(
        gram,
        targets.unsqueeze(-2).expand_as(fold_weights).flatten(-2),
        fold_weights.flatten(-2), costs, **solver_options)
    beta = beta.unflatten(-2, (num_folds + 1, -1))  # (G x) m x F+1 x L x C
    # held-out decisions of the fold fits only; the last fit is the final
    decision = gram @ beta[..., :num_folds, :, :].flatten(-3)
    scored = torch.where(held_out, targets.unsqueeze(-2), 0).unsqueeze(-1)
    fold_ap = average_precision(
        decision, scored.expand(*scored.shape[:-1], len(costs)).flatten(-3))
    cv_ap = fold_ap.unflatten(-1, (num_folds, -1, len(costs))).mean(-3)
    return cv_ap, beta[..., -1, :, :]
