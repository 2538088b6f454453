"""Low-shot VOC07 SVMs: k positives and 19 k negatives per class.

For every k (1, 2, 4, ... 96) and each of 5 independent draws, every class
trains its SVMs (all reference costs) on its own k positives and 19 k
negatives of trainval and is tested on the whole test set. The draws come
from one seeded generator and are saved, so a run can be repeated.

Two selections of the cost are reported:

* ``reference``: the cost that maximises the mean test mAP over the
  draws, which is how the published low-shot tables were made (the cost is
  chosen on the test set);
* ``cross_validated``: per draw and class, the cost with the best
  cross-validated AP on that low-shot training set (``min(3, k)`` folds).
  With k = 1 no split keeps a positive on both sides, so k = 1 uses the
  costs cross-validated on the k = 2 draw of the same index.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.logging import print_log

from .average_precision import average_precision
from .cross_validation import fit_with_cross_validation
from .squared_hinge_svm import bias_gram, decision_values
from .svm_targets import SvmTargets, as_svm_targets
from .voc07_svm import POSITIVE_WEIGHT, REFERENCE_COSTS, svm_split

#: Positives per class of the reference low-shot benchmark.
SHOTS = (1, 2, 4, 8, 16, 32, 64, 96)
#: Independent draws per k.
NUM_DRAWS = 5
#: Negatives drawn per positive.
NEGATIVES_PER_POSITIVE = 19
#: Size of the gathered training features of the draws solved together.
DRAW_BATCH_BYTES = 1 << 30


def _first_in_random_order(eligible: torch.Tensor, count: int,
                           generator: torch.Generator) -> torch.Tensor:
    """``count`` random eligible rows per (draw, class) column.

    Args:
        eligible (torch.Tensor): ``D x N x L`` boolean.
        count (int): Rows to take per column.
        generator (torch.Generator): Source of the random order.

    Returns:
        torch.Tensor: ``D x count x L`` row indices.
    """
    keys = torch.rand(eligible.shape, generator=generator, dtype=torch.float64)
    keys.masked_fill_(~eligible, float('inf'))
    return keys.argsort(dim=1)[:, :count]


def draw_low_shot_samples(targets: SvmTargets,
                          shots: Sequence[int] = SHOTS,
                          num_draws: int = NUM_DRAWS,
                          seed: int = 0) -> Dict[int, np.ndarray]:
    """Draw each class's low-shot training sets from a fixed seed.

    Negatives are the images that are not positives of the class (difficult
    ones included, as in training).

    Args:
        targets (SvmTargets): The ``N x L`` trainval targets.
        shots (Sequence[int]): The values of k.
        num_draws (int): Independent draws per k.
        seed (int): Seed of the generator.

    Returns:
        dict[int, np.ndarray]: For every k an int64 array of shape
        ``num_draws x L x 20k``: the trainval indices of the k positives
        followed by the 19 k negatives of every draw and class.
    """
    positive = as_svm_targets(targets, 'low-shot targets').positive
    per_draw = positive.expand(num_draws, -1, -1)
    generator = torch.Generator().manual_seed(seed)
    samples = {}
    for shot in shots:
        _check_enough(positive, shot)
        chosen = torch.cat([
            _first_in_random_order(per_draw, shot, generator),
            _first_in_random_order(~per_draw,
                                   NEGATIVES_PER_POSITIVE * shot, generator)
        ], dim=1)
        samples[shot] = chosen.transpose(1, 2).numpy()
    return samples


def _check_enough(positive: torch.Tensor, shot: int) -> None:
    """Fail, naming the class, when a class has too few samples for k."""
    positives = positive.sum(0)
    negatives = (~positive).sum(0)
    short = ((positives < shot) |
             (negatives < NEGATIVES_PER_POSITIVE * shot)).nonzero()
    if len(short):
        cls = int(short[0])
        raise ValueError(
            f'Low-shot k={shot}: class {cls} has {int(positives[cls])} '
            f'positives and {int(negatives[cls])} negatives in trainval, '
            f'fewer than the {shot} and {NEGATIVES_PER_POSITIVE * shot} '
            'needed; leave this k out (--shots).')


def save_low_shot_samples(samples: Dict[int, np.ndarray], path: str,
                          seed: int) -> None:
    """Write the draws to an ``.npz`` file (keys ``k{shot}`` and ``seed``)."""
    np.savez(path, seed=seed, **{f'k{k}': v for k, v in samples.items()})


def load_low_shot_samples(path: str, num_train: int,
                          num_classes: int) -> Dict[int, np.ndarray]:
    """Read draws written by :func:`save_low_shot_samples` and check them.

    Args:
        path (str): The ``.npz`` file.
        num_train (int): Number of trainval samples they must index.
        num_classes (int): Number of classes they must cover.

    Returns:
        dict[int, np.ndarray]: As :func:`draw_low_shot_samples`.
    """
    with np.load(path) as archive:
        samples = {
            int(key[1:]): archive[key]
            for key in archive.files if key.startswith('k')
        }
    for shot, chosen in samples.items():
        if (chosen.ndim != 3 or chosen.shape[1] != num_classes
                or chosen.shape[2] != shot * (1 + NEGATIVES_PER_POSITIVE)
                or chosen.min() < 0 or chosen.max() >= num_train):
            raise ValueError(
                f'{path}: the draws of k={shot} (shape {chosen.shape}) do not '
                f'fit {num_train} trainval samples of {num_classes} classes; '
                'they were made for other features: delete the file to draw '
                'again.')
    return samples


def _draw_results(train: torch.Tensor, test: torch.Tensor,
                  train_labels: torch.Tensor, test_targets: torch.Tensor,
                  chosen: torch.Tensor, costs: Sequence[float],
                  positive_weight: float, num_folds: int,
                  **solver_options):
    """CV AP and test AP of every class and cost for some draws at once.

    Every (draw, class) is one group of the batched solve, with the Gram
    matrix of its own drawn samples only (``m x m``), so the trainval set
    may be large.

    Args:
        train (torch.Tensor): ``N x d`` normalised trainval features.
        test (torch.Tensor): ``M x d`` normalised test features.
        train_labels (torch.Tensor): ``N x L`` +1/-1 training labels.
        test_targets (torch.Tensor): ``M x L`` test targets.
        chosen (torch.Tensor): ``D x L x m`` trainval indices of each draw
            and class.

    Returns:
        tuple: ``cv_ap`` and ``test_ap``, both ``D x L x C``.
    """
    num_draws, num_classes, _ = chosen.shape
    groups = chosen.flatten(0, 1)  # (D * L) x m
    classes = torch.arange(num_classes, device=chosen.device).repeat(
        num_draws)
    drawn = train[groups]
    labels = train_labels[groups, classes[:, None]]
    cv_ap, beta = fit_with_cross_validation(bias_gram(drawn),
                                            labels[:, :, None], costs,
                                            num_folds, positive_weight,
                                            **solver_options)
    # (D * L) x M x C
    scores = decision_values(beta[:, :, 0], drawn, test)
    targets = test_targets.T[classes][:, :, None].expand_as(scores)
    test_ap = average_precision(scores, targets, interpolated=True)
    return (cv_ap[:, 0].unflatten(0, (num_draws, num_classes)),
            test_ap.unflatten(0, (num_draws, num_classes)))


def _draw_batches(chosen: np.ndarray, row_bytes: int) -> List[slice]:
    """Slices of the draws solved together: as many as keep the gathered
    features (``draws x L x m`` rows of ``row_bytes``) within
    :data:`DRAW_BATCH_BYTES`."""
    num_draws, num_classes, size = chosen.shape
    per_draw = num_classes * size * row_bytes
    step = max(1, min(num_draws, DRAW_BATCH_BYTES // per_draw))
    return [slice(start, start + step) for start in range(0, num_draws, step)]


def _map_summary(maps: torch.Tensor) -> Dict[str, float]:
    """Mean and (population) standard deviation of per-draw mAPs."""
    return dict(map_mean=float(maps.mean()),
                map_std=float(maps.std(unbiased=False)))


def low_shot_svm(train_features: torch.Tensor,
                 train_targets: SvmTargets,
                 test_features: torch.Tensor,
                 test_targets: SvmTargets,
                 samples: Dict[int, np.ndarray],
                 costs: Sequence[float] = REFERENCE_COSTS,
                 positive_weight: float = POSITIVE_WEIGHT,
                 dtype: torch.dtype = torch.float64,
                 device: Optional[torch.device] = None,
                 **solver_options) -> Dict[int, dict]:
    """Low-shot SVM test mAP for every k of ``samples``.

    Args:
        train_features (torch.Tensor): ``N x d`` trainval features.
        train_targets (SvmTargets): The ``N x L`` trainval targets.
        test_features (torch.Tensor): ``M x d`` test features.
        test_targets (SvmTargets): The ``M x L`` test targets (difficult
            images are ignored).
        samples (dict[int, np.ndarray]): The draws, from
            :func:`draw_low_shot_samples` or :func:`load_low_shot_samples`.
        costs (Sequence[float]): Candidate costs. Defaults to the reference.
        positive_weight (float): Class weight of the positives.
        dtype (torch.dtype): Precision of the solve. Defaults to float64.
        device (torch.device, optional): Where to solve.
        **solver_options: Passed to :func:`squared_hinge_svms`.

    Returns:
        dict[int, dict]: Per k: ``reference`` (``cost``, ``map_mean``,
        ``map_std``: the cost with the best mean test mAP over the draws)
        and ``cross_validated`` (``map_mean``, ``map_std`` with per-class
        costs chosen by cross-validation on each draw, and ``cv_from_k``,
        the k whose draws chose them), plus ``map_per_cost`` (mean test
        mAP of every cost).
    """
    train, labels, test, test_targets = svm_split(
        train_features, train_targets, test_features, test_targets, dtype,
        device)
    per_shot = {}
    for shot in sorted(samples):
        batches = [
            _draw_results(train, test, labels, test_targets,
                          torch.as_tensor(samples[shot][part],
                                          device=train.device), costs,
                          positive_weight, min(3, shot), **solver_options)
            for part in _draw_batches(samples[shot], train[0].nbytes)
        ]
        per_shot[shot] = (torch.cat([cv for cv, _ in batches]).cpu(),
                          torch.cat([test for _, test in batches]).cpu())
        print_log(f'low-shot SVM: k={shot} done', logger='current')
    return {
        shot: _shot_report(shot, per_shot, costs)
        for shot in sorted(per_shot)
    }


def _shot_report(shot: int, per_shot: Dict[int, tuple],
                 costs: Sequence[float]) -> dict:
    """Both cost selections for one k (``per_shot``: k -> (cv, test))."""
    test_ap = per_shot[shot][1]  # draws x L x C
    map_per_cost = test_ap.mean(1)  # draws x C
    best = int(map_per_cost.mean(0).argmax())
    cv_from = shot if shot > 1 or 2 not in per_shot else 2
    cv_ap = per_shot[cv_from][0]
    if cv_ap.isnan().all():
        cross_validated = dict(map_mean=None, map_std=None, cv_from_k=None)
    else:
        chosen_ap = test_ap.gather(2, cv_ap.argmax(2, keepdim=True))[..., 0]
        cross_validated = dict(
            **_map_summary(chosen_ap.mean(1)), cv_from_k=cv_from)
    return dict(
        reference=dict(cost=costs[best],
                       **_map_summary(map_per_cost[:, best])),
        cross_validated=cross_validated,
        map_per_cost=map_per_cost.mean(0).tolist())

