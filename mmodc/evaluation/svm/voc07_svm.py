"""The VOC07 SVM benchmark: one linear SVM per class, cost by 3-fold CV.

The protocol of FAIR's self-supervision benchmark (Goyal et al. 2019), as
the ODC and DeepCluster papers used it: features L2-normalised; per class
and cost a ``LinearSVC(C, class_weight={1: 2, -1: 1}, loss='squared_hinge',
penalty='l2')``; each class's cost chosen by 3-fold cross-validated AP on
trainval, where difficult images count as negatives; test AP (the VOC
devkit's interpolated AP) ignores difficult images.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .average_precision import average_precision
from .cross_validation import fit_with_cross_validation
from .squared_hinge_svm import bias_gram, decision_values
from .svm_targets import SvmTargets, as_svm_targets

#: The reference costs: 1, 10, 100 and 0.5^4 ... 0.5^19.
REFERENCE_COSTS = (1.0, 10.0, 100.0) + tuple(0.5**e for e in range(4, 20))
#: LinearSVC's class weight of the positives (negatives weigh 1).
POSITIVE_WEIGHT = 2.0


def svm_features(features: torch.Tensor, dtype: torch.dtype,
                 device: Optional[torch.device]) -> torch.Tensor:
    """Features as the SVMs see them: L2-normalised rows."""
    features = torch.as_tensor(features)
    if features.dim() != 2:
        raise ValueError('SVM features must be samples x dims, got shape '
                         f'{tuple(features.shape)}.')
    if not bool(features.isfinite().all()):
        raise ValueError('SVM features contain NaN or Inf values.')
    return F.normalize(features.to(device=device, dtype=dtype), dim=1)


def svm_split(train_features: torch.Tensor, train_targets: SvmTargets,
              test_features: torch.Tensor, test_targets: SvmTargets,
              dtype: torch.dtype,
              device: Optional[torch.device]) -> Tuple[torch.Tensor, ...]:
    """Check and prepare a trainval/test split for the SVMs.

    Returns:
        tuple: Normalised trainval features, their +1/-1 training labels,
        normalised test features and the test labels of
        :meth:`SvmTargets.scored_labels` (difficult 0), all on the solve's
        device.
    """
    train_targets = as_svm_targets(train_targets, 'train_targets')
    test_targets = as_svm_targets(test_targets, 'test_targets')
    train = svm_features(train_features, dtype, device)
    test = svm_features(test_features, dtype, device)
    for split, features, targets in (('train', train, train_targets),
                                     ('test', test, test_targets)):
        if len(features) != len(targets):
            raise ValueError(
                f'SVM {split} split: {len(features)} feature rows but '
                f'{len(targets)} target rows.')
    if train_targets.num_classes != test_targets.num_classes:
        raise ValueError(
            f'SVM targets: {train_targets.num_classes} train classes but '
            f'{test_targets.num_classes} test classes.')
    return (train, train_targets.training_labels().to(train.device), test,
            test_targets.scored_labels().to(train.device))


def voc07_svm(train_features: torch.Tensor,
              train_targets: SvmTargets,
              test_features: torch.Tensor,
              test_targets: SvmTargets,
              costs: Sequence[float] = REFERENCE_COSTS,
              num_folds: int = 3,
              positive_weight: float = POSITIVE_WEIGHT,
              dtype: torch.dtype = torch.float64,
              device: Optional[torch.device] = None,
              **solver_options) -> Dict[str, object]:
    """Train and test the per-class SVMs of the VOC07 benchmark.

    Args:
        train_features (torch.Tensor): ``N x d`` trainval features.
        train_targets (SvmTargets): The ``N x L`` trainval targets
            (difficult images count as negatives).
        test_features (torch.Tensor): ``M x d`` test features.
        test_targets (SvmTargets): The ``M x L`` test targets (difficult
            images are ignored).
        costs (Sequence[float]): Candidate costs. Defaults to the reference.
        num_folds (int): Cross-validation folds. Defaults to 3.
        positive_weight (float): Class weight of the positives.
        dtype (torch.dtype): Precision of the solve. Defaults to float64.
        device (torch.device, optional): Where to solve; defaults to the
            features' device.
        **solver_options: Passed to :func:`squared_hinge_svms`.

    Returns:
        dict: ``costs``, ``cv_ap`` (``L x C``), ``test_ap_per_cost``
        (``L x C``), ``chosen_cost`` (``L``), ``ap`` (``L``, test AP at the
        chosen costs) and ``map`` (their mean), all as Python lists/floats.
    """
    train, labels, test, test_targets = svm_split(
        train_features, train_targets, test_features, test_targets, dtype,
        device)
    cv_ap, beta = fit_with_cross_validation(bias_gram(train), labels, costs,
                                            num_folds, positive_weight,
                                            **solver_options)
    scores = decision_values(beta.flatten(-2), train, test)
    test_ap = average_precision(
        scores,
        test_targets.repeat_interleave(len(costs), dim=1),
        interpolated=True).view(-1, len(costs)).cpu()
    chosen = cv_ap.cpu().argmax(dim=1)
    chosen_ap = test_ap.gather(1, chosen[:, None])[:, 0]
    return dict(
        costs=list(costs),
        cv_ap=cv_ap.tolist(),
        test_ap_per_cost=test_ap.tolist(),
        chosen_cost=[costs[index] for index in chosen.tolist()],
        ap=chosen_ap.tolist(),
        map=float(chosen_ap.mean()))
