"""Tests of the VOC07 SVM benchmark (:mod:`mmodc.evaluation.svm`).

The batched Gram-space solver, the AP, the folds and the cross-validation
are checked against scikit-learn (``LinearSVC``, ``average_precision_score``,
``StratifiedKFold``/``KFold``, ``cross_val_score``) and against the VOC
devkit's interpolated AP as FAIR's benchmark computes it; the VOC07 and
low-shot protocols are checked end to end against a LinearSVC loop.
"""
import importlib
import re

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, precision_recall_curve
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.svm import LinearSVC

from mmodc.evaluation.svm import (
    NEGATIVES_PER_POSITIVE,
    NUM_DRAWS,
    SvmTargets,
    average_precision,
    decision_values,
    draw_low_shot_samples,
    fit_fixed_costs,
    fit_with_cross_validation,
    load_low_shot_samples,
    low_shot_svm,
    save_low_shot_samples,
    squared_hinge_svms,
    stratified_folds,
    voc07_svm,
)

TIGHT = dict(tol=1e-8)
SMALL_COSTS = (0.1, 1.0, 10.0)


pytestmark = pytest.mark.usefixtures('single_thread')


# --------------------------------------------------------------- references
def linear_svc(cost: float) -> LinearSVC:
    """The reference per-class SVM of the benchmark, solved tightly."""
    return LinearSVC(C=cost, class_weight={1: 2, -1: 1},
                     loss='squared_hinge', penalty='l2', intercept_scaling=1,
                     tol=1e-10, max_iter=10**6)


def sklearn_fit(features: np.ndarray, labels: np.ndarray, cost: float,
                test_features: np.ndarray) -> tuple:
    """Decision values on ``test_features`` and intercept of LinearSVC."""
    model = linear_svc(cost).fit(features, labels)
    return model.decision_function(test_features), model.intercept_[0]


def bias_gram(left: np.ndarray, right: np.ndarray) -> torch.Tensor:
    """``left right^T + 1`` as a float64 tensor."""
    return torch.from_numpy(left @ right.T + 1)


def class_weights(targets: torch.Tensor) -> torch.Tensor:
    """LinearSVC's ``class_weight={1: 2, -1: 1}`` per sample."""
    return torch.where(targets > 0, 2.0, 1.0).double()


def voc_ap(scores: np.ndarray, targets: np.ndarray) -> float:
    """FAIR's ``calculate_ap``: area under the monotone precision envelope.

    Difficult rows (target 0) are dropped; scores must have no ties (each
    sample is a curve point, as in FAIR's ``get_precision_recall``).
    """
    keep = targets != 0
    order = np.argsort(-scores[keep], kind='stable')
    positive = targets[keep][order] > 0
    true_pos = np.cumsum(positive)
    recall = np.concatenate([[0.], true_pos / positive.sum(), [1.]])
    precision = np.concatenate(
        [[0.], true_pos / np.arange(1, len(positive) + 1), [0.]])
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.nonzero(recall[1:] != recall[:-1])[0] + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) *
                        envelope[steps]))


def envelope_ap_with_ties(scores: np.ndarray, labels: np.ndarray) -> float:
    """Interpolated AP from sklearn's (tie-grouped) precision-recall curve."""
    precision, recall, _ = precision_recall_curve(labels, scores)
    precision, recall = precision[:-1][::-1], recall[:-1][::-1]
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.], recall]))
    return float(np.sum(steps * envelope))


def sklearn_test_folds(labels: np.ndarray, num_folds: int) -> np.ndarray:
    """Test-fold id of every sample under ``StratifiedKFold(num_folds)``."""
    folds = np.empty(len(labels), dtype=int)
    splits = StratifiedKFold(num_folds).split(np.zeros(len(labels)), labels)
    for fold, (_, test) in enumerate(splits):
        folds[test] = fold
    return folds


def kfold_ids(count: int, num_folds: int) -> np.ndarray:
    """Fold id of ``count`` samples under ``KFold(num_folds)`` (no shuffle)."""
    folds = np.empty(count, dtype=int)
    for fold, (_, test) in enumerate(KFold(num_folds).split(np.zeros(count))):
        folds[test] = fold
    return folds


def random_labels(rng: np.random.Generator, num: int, classes: int,
                  rate: float = 0.35, minimum: int = 3) -> np.ndarray:
    """``num x classes`` +1/-1 labels with ``minimum`` of each per class."""
    labels = np.where(rng.random((num, classes)) < rate, 1, -1)
    labels[:minimum] = 1
    labels[minimum:2 * minimum] = -1
    return labels


def assert_close_decisions(ours: np.ndarray, reference: np.ndarray) -> None:
    """Decision values agree to 1e-4 relative to their magnitude."""
    np.testing.assert_allclose(
        ours, reference, rtol=1e-4, atol=1e-4 * np.abs(reference).max())


# ------------------------------------------------------------------ solver
@pytest.mark.parametrize('num, dims, seed', [(60, 10, 0), (120, 40, 1),
                                             (30, 80, 2)])
def test_solver_matches_linear_svc(num, dims, seed):
    """Every class and cost of one batched solve equals its LinearSVC fit,
    also with more dimensions than samples."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(num, dims))
    test_features = rng.normal(size=(25, dims))
    labels = random_labels(rng, num, 2)
    costs = (100.0, 0.01, 1.0)  # not sorted: the path sorts them
    targets = torch.from_numpy(labels)
    beta = squared_hinge_svms(bias_gram(features, features), targets,
                              class_weights(targets), costs, **TIGHT)
    assert beta.shape == (num, 2, len(costs))
    test_gram = bias_gram(test_features, features)
    decisions = decision_values(beta.flatten(1), torch.from_numpy(features),
                                torch.from_numpy(test_features))
    decisions = decisions.unflatten(1, (2, len(costs)))
    for cls in range(2):
        for index, cost in enumerate(costs):
            decision, intercept = sklearn_fit(features, labels[:, cls], cost,
                                              test_features)
            coefficients = beta[:, cls, index]
            assert_close_decisions((test_gram @ coefficients).numpy(),
                                   decision)
            assert_close_decisions(decisions[:, cls, index].numpy(),
                                   decision)
            assert float(coefficients.sum()) == pytest.approx(
                intercept, rel=1e-4, abs=1e-6)


def test_fit_fixed_costs_matches_linear_svc_and_warm_start():
    """One fixed cost matches LinearSVC; restarting from the solution stops
    at once without moving it."""
    rng = np.random.default_rng(3)
    features, test_features = rng.normal(size=(80, 15)), rng.normal(
        size=(20, 15))
    labels = random_labels(rng, 80, 1)
    targets = torch.from_numpy(labels)
    beta, iterations = fit_fixed_costs(bias_gram(features, features),
                                       targets, 10 * class_weights(targets),
                                       **TIGHT)
    assert iterations >= 1
    decision, intercept = sklearn_fit(features, labels[:, 0], 10.0,
                                      test_features)
    assert_close_decisions(
        (bias_gram(test_features, features) @ beta[:, 0]).numpy(), decision)
    assert float(beta.sum()) == pytest.approx(intercept, rel=1e-4, abs=1e-6)
    again, iterations = fit_fixed_costs(bias_gram(features, features),
                                        targets, 10 * class_weights(targets),
                                        start=beta, **TIGHT)
    assert iterations == 0
    assert torch.equal(again, beta)


def test_batched_groups_with_a_left_out_sample():
    """``G x m x m`` Grams solve each group's problems; a sample of weight 0
    is exactly a fit without that sample."""
    rng = np.random.default_rng(4)
    groups, num, dims, costs = 3, 50, 12, (0.1, 10.0)
    features = rng.normal(size=(groups, num, dims))
    test_features = rng.normal(size=(20, dims))
    labels = np.stack([random_labels(rng, num, 2) for _ in range(groups)])
    targets = torch.from_numpy(labels)
    weights = class_weights(targets)
    left_out = (1, 7, 0)  # group, sample, class
    weights[left_out] = 0
    gram = torch.stack([bias_gram(x, x) for x in features])
    beta = squared_hinge_svms(gram, targets, weights, costs, **TIGHT)
    assert beta.shape == (groups, num, 2, len(costs))
    decisions = decision_values(beta.flatten(2), torch.from_numpy(features),
                                torch.from_numpy(test_features))
    decisions = decisions.unflatten(2, (2, len(costs)))
    for group in range(groups):
        test_gram = bias_gram(test_features, features[group])
        for cls in range(2):
            keep = np.ones(num, dtype=bool)
            if (group, cls) == left_out[::2]:
                keep[left_out[1]] = False
            for index, cost in enumerate(costs):
                decision, _ = sklearn_fit(features[group][keep],
                                          labels[group, keep, cls], cost,
                                          test_features)
                assert_close_decisions(
                    (test_gram @ beta[group, :, cls, index]).numpy(),
                    decision)
                assert_close_decisions(
                    decisions[group, :, cls, index].numpy(), decision)



def test_batched_groups_equal_separate_solves():
    """Groups whose problems converge at different iterations: the batched
    cost path stays finite and equals solving every group on its own (a
    converged group must not be driven into round-off by the others)."""
    costs = (0.01, 0.1, 1.0, 10.0, 100.0)
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        features = rng.normal(size=(3, 50, 12))
        targets = torch.from_numpy(
            np.stack([random_labels(rng, 50, 2) for _ in range(3)]))
        grams = torch.stack([bias_gram(x, x) for x in features])
        batched = squared_hinge_svms(grams, targets, class_weights(targets),
                                     costs, **TIGHT)
        assert bool(batched.isfinite().all())
        for group in range(3):
            alone = squared_hinge_svms(grams[group], targets[group],
                                       class_weights(targets[group]), costs,
                                       **TIGHT)
            gram = grams[group]
            torch.testing.assert_close(gram @ batched[group].flatten(1),
                                       gram @ alone.flatten(1), rtol=1e-6,
                                       atol=1e-6)


def _solver_inputs():
    """A valid 6-sample, 2-class problem: gram, targets, per-sample costs."""
    features = np.random.default_rng(5).normal(size=(6, 3))
    targets = torch.tensor([[1, -1]] * 3 + [[-1, 1]] * 3)
    return bias_gram(features, features), targets, class_weights(targets)


@pytest.mark.parametrize('problem, pattern', [
    ('zero target', 'must be \\+1 or -1'),
    ('negative cost', 'finite and >= 0'),
    ('nan cost', 'finite and >= 0'),
    ('row mismatch', 'samples but the targets have'),
    ('cost shape', 'must have the same shape'),
    ('non-square gram', 'must be m x m'),
])
def test_fit_fixed_costs_input_errors(problem, pattern):
    gram, targets, costs = _solver_inputs()
    if problem == 'zero target':
        targets = targets.clone()
        targets[0, 0] = 0
    elif problem == 'negative cost':
        costs = costs.clone()
        costs[2, 1] = -1
    elif problem == 'nan cost':
        costs = costs.clone()
        costs[2, 1] = float('nan')
    elif problem == 'row mismatch':
        targets, costs = targets[:5], costs[:5]
    elif problem == 'cost shape':
        costs = costs[:, :1]
    else:
        gram = gram[:, :5]
    with pytest.raises(ValueError, match=pattern):
        fit_fixed_costs(gram, targets, costs)


@pytest.mark.parametrize('costs', [(1.0, 0.0), (-1.0, ), ()])
def test_squared_hinge_svms_rejects_non_positive_costs(costs):
    gram, targets, weights = _solver_inputs()
    with pytest.raises(ValueError, match='costs must be positive'):
        squared_hinge_svms(gram, targets, weights, costs)


# ------------------------------------------------------- average precision
def test_average_precision_hand_example():
    """Ties form one curve point and a difficult image is ignored.

    Ranked by score (0.8 tied): -, (+, -), difficult, +, +, -. Three
    positives; the curve points (recall, precision) are (0, 0/1) after the
    first negative, (1/3, 1/3) after the tie, the difficult one changes
    nothing, then (2/3, 2/4), (3/3, 3/5) and (1, 3/6).

    * plain: 1/3 * (1/3 + 1/2 + 3/5) = 43/90;
    * interpolated (best precision at that recall or beyond): the envelope
      is 3/5 at every recall step, so 3/5.
    Were the difficult image (score 0.7) a negative, the plain AP would be
    1/3 * (1/3 + 2/5 + 1/2) = 37/90.
    """
    scores = torch.tensor([0.9, 0.8, 0.8, 0.7, 0.6, 0.5, 0.4],
                          dtype=torch.float64)
    targets = torch.tensor([-1, 1, -1, 0, 1, 1, -1])
    assert float(average_precision(scores, targets)) == pytest.approx(43 /
                                                                     90)
    assert float(average_precision(
        scores, targets, interpolated=True)) == pytest.approx(3 / 5)
    assert float(average_precision(
        scores, torch.where(targets == 0, -1, targets))) == pytest.approx(
            37 / 90)
    # the tie's order in the input does not matter
    swapped = [0, 2, 1, 3, 4, 5, 6]
    assert float(average_precision(scores[swapped],
                                   targets[swapped])) == pytest.approx(43 /
                                                                       90)
    # 1-d input gives a scalar; a column gives a 1-vector
    assert average_precision(scores, targets).shape == ()
    assert average_precision(scores[:, None], targets[:, None]).shape == (1, )


def _random_ap_problem(seed: int, tied: bool):
    """``2 x 30 x 4`` scores (integers 0..4 when ``tied``) and targets in
    {1, 0, -1} with at least one positive and one negative per column."""
    rng = np.random.default_rng(seed)
    shape = (2, 30, 4)
    scores = rng.integers(0, 5, shape) if tied else rng.normal(size=shape)
    targets = rng.choice([1, 0, -1], size=shape, p=[0.35, 0.15, 0.5])
    targets[:, 0], targets[:, 1] = 1, -1
    return scores.astype(np.float64), targets


@pytest.mark.parametrize('tied', [True, False])
def test_average_precision_matches_sklearn(tied):
    """Batched over a group dimension and columns, with difficult rows."""
    scores, targets = _random_ap_problem(6, tied)
    plain = average_precision(torch.from_numpy(scores),
                              torch.from_numpy(targets))
    interpolated = average_precision(torch.from_numpy(scores),
                                     torch.from_numpy(targets),
                                     interpolated=True)
    assert plain.shape == interpolated.shape == (2, 4)
    assert plain.dtype == torch.float64
    for group in range(2):
        for col in range(4):
            score, target = scores[group, :, col], targets[group, :, col]
            keep = target != 0
            assert float(plain[group, col]) == pytest.approx(
                average_precision_score(target[keep] > 0, score[keep]))
            assert float(interpolated[group, col]) == pytest.approx(
                envelope_ap_with_ties(score[keep], target[keep] > 0))
            if not tied:
                assert float(interpolated[group, col]) == pytest.approx(
                    voc_ap(score, target))


def test_average_precision_no_positive_and_shape_errors():
    scores, targets = _random_ap_problem(7, False)
    targets[1, :, 2] = np.where(targets[1, :, 2] > 0, 0, targets[1, :, 2])
    ap = average_precision(torch.from_numpy(scores),
                           torch.from_numpy(targets))
    assert bool(ap[1, 2].isnan())
    assert int(ap.isnan().sum()) == 1
    with pytest.raises(ValueError, match='scores of shape'):
        average_precision(torch.zeros(5, 2), torch.ones(5, 3))


# ------------------------------------------------------------------- folds
@pytest.mark.parametrize('num_folds', [2, 3, 4, 5])
def test_stratified_folds_balanced_contiguous_blocks(num_folds):
    """Per class and label, fold sizes differ by at most 1 and the folds
    are contiguous blocks in sample order (fold ids never decrease)."""
    rng = np.random.default_rng(num_folds)
    labels = random_labels(rng, 47, 6, rate=0.3, minimum=num_folds)
    folds = stratified_folds(torch.from_numpy(labels), num_folds).numpy()
    assert folds.shape == labels.shape
    for cls in range(labels.shape[1]):
        for sign in (1, -1):
            ids = folds[labels[:, cls] == sign, cls]
            sizes = np.bincount(ids, minlength=num_folds)
            assert len(sizes) == num_folds
            assert sizes.max() - sizes.min() <= 1
            assert np.all(np.diff(ids) >= 0)


@pytest.mark.parametrize('num_folds', [2, 3])
def test_stratified_folds_equal_kfold_per_label(num_folds):
    """For 2 and 3 folds each label's samples are split as ``KFold`` splits
    them (the first folds take the extra samples), i.e. as the pre-0.22
    ``StratifiedKFold`` did."""
    rng = np.random.default_rng(10 + num_folds)
    labels = random_labels(rng, 53, 8, rate=0.4, minimum=num_folds)
    folds = stratified_folds(torch.from_numpy(labels), num_folds).numpy()
    for cls in range(labels.shape[1]):
        for sign in (1, -1):
            members = labels[:, cls] == sign
            np.testing.assert_array_equal(
                folds[members, cls], kfold_ids(members.sum(), num_folds))


def test_stratified_folds_versus_current_stratified_kfold():
    """Where scikit-learn's ``StratifiedKFold(3)`` coincides, and where not.

    Current scikit-learn allocates the label of the first sample like
    ``KFold`` and the other label round-robin after it, so the other label
    only coincides when the first label's count is a multiple of 3.
    """
    rng = np.random.default_rng(12)
    checked_other = 0
    for _ in range(40):
        labels = random_labels(rng, int(rng.integers(9, 40)), 1, 0.4)[:, 0]
        rng.shuffle(labels)
        ours = stratified_folds(torch.from_numpy(labels)[:, None], 3)[:, 0]
        theirs = sklearn_test_folds(labels, 3)
        first = labels == labels[0]
        np.testing.assert_array_equal(ours.numpy()[first], theirs[first])
        if first.sum() % 3 == 0:
            checked_other += 1
            np.testing.assert_array_equal(ours.numpy(), theirs)
    assert checked_other > 0
    # a case where they differ: 4 positives first, then 5 negatives. Both
    # split the positives 2, 1, 1; mmodc splits the negatives 2, 2, 1 (as
    # KFold), scikit-learn deals the sorted labels round-robin, so the
    # negatives (sorted positions 4..8 -> folds 1, 2, 0, 1, 2) get 1, 2, 2.
    labels = np.array([1] * 4 + [-1] * 5)
    ours = stratified_folds(torch.from_numpy(labels)[:, None], 3)[:, 0]
    assert ours.tolist() == [0, 0, 1, 2, 0, 0, 1, 1, 2]
    assert sklearn_test_folds(labels, 3).tolist() == [
        0, 0, 1, 2, 0, 1, 1, 2, 2
    ]


def test_stratified_folds_batched_and_errors():
    rng = np.random.default_rng(13)
    labels = np.stack([random_labels(rng, 30, 3) for _ in range(4)])
    batched = stratified_folds(torch.from_numpy(labels), 3)
    for group in range(4):
        assert torch.equal(batched[group],
                           stratified_folds(torch.from_numpy(labels[group]),
                                            3))
    labels = random_labels(rng, 30, 3)
    labels[:, 1] = -1
    labels[:2, 1] = 1
    with pytest.raises(ValueError, match='3 positives per class'):
        stratified_folds(torch.from_numpy(labels), 3)
    with pytest.raises(ValueError, match='3 negatives per class'):
        stratified_folds(-torch.from_numpy(labels), 3)


# -------------------------------------------------------- cross-validation
def _cv_problem():
    """60 L2-normalised samples, 2 classes with 18 and 21 positives (all
    counts multiples of 3, so StratifiedKFold(3) folds coincide)."""
    rng = np.random.default_rng(14)
    features = rng.normal(size=(60, 10)) + 0.6 * rng.normal(size=10)
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    labels = -np.ones((60, 2), dtype=np.int64)
    for cls, count in enumerate((18, 21)):
        labels[rng.permutation(60)[:count], cls] = 1
        features[labels[:, cls] == 1, cls] += 0.3
    return features, labels


def test_cross_validation_matches_cross_val_score():
    features, labels = _cv_problem()
    cv_ap, beta = fit_with_cross_validation(bias_gram(features, features),
                                            torch.from_numpy(labels),
                                            SMALL_COSTS, 3, **TIGHT)
    assert cv_ap.shape == (2, len(SMALL_COSTS))
    assert beta.shape == (60, 2, len(SMALL_COSTS))
    gram = bias_gram(features, features)
    for cls in range(2):
        np.testing.assert_array_equal(
            stratified_folds(torch.from_numpy(labels), 3)[:, cls].numpy(),
            sklearn_test_folds(labels[:, cls], 3))
        for index, cost in enumerate(SMALL_COSTS):
            expected = cross_val_score(linear_svc(cost), features,
                                       labels[:, cls], cv=StratifiedKFold(3),
                                       scoring='average_precision').mean()
            assert float(cv_ap[cls, index]) == pytest.approx(expected,
                                                             abs=1e-3)
            decision, _ = sklearn_fit(features, labels[:, cls], cost,
                                      features)
            assert_close_decisions((gram @ beta[:, cls, index]).numpy(),
                                   decision)


def test_cross_validation_with_one_fold_only_fits():
    features, labels = _cv_problem()
    gram, targets = bias_gram(features, features), torch.from_numpy(labels)
    cv_ap, beta = fit_with_cross_validation(gram, targets, SMALL_COSTS, 1,
                                            **TIGHT)
    assert cv_ap.shape == (2, len(SMALL_COSTS))
    assert bool(cv_ap.isnan().all())
    direct = squared_hinge_svms(gram, targets, class_weights(targets),
                                SMALL_COSTS, **TIGHT)
    torch.testing.assert_close(beta, direct)


# -------------------------------------------------------------------- VOC07
def _multilabel_set(rng: np.random.Generator, num: int, difficult: int):
    """Features around 3 class prototypes (axes 0-2) in 8 dims, 1 or 2
    labels per image, ``difficult`` random targets set to 0."""
    labels = -np.ones((num, 3), dtype=np.int64)
    labels[np.arange(num), np.arange(num) % 3] = 1
    second = rng.random(num) < 0.2
    labels[second, rng.integers(0, 3, second.sum())] = 1
    features = 0.35 * rng.normal(size=(num, 8))
    features[:, :3] += labels > 0
    rows = rng.choice(num, difficult, replace=False)
    labels[rows, rng.integers(0, 3, difficult)] = 0
    return features, labels


def devkit(targets: np.ndarray) -> SvmTargets:
    """Targets of the tests' arrays, written in the VOC devkit's values."""
    return SvmTargets.from_array(targets, 'voc_devkit')


def svm_inputs(train, train_targets, test, test_targets) -> tuple:
    """Features as tensors and targets as :class:`SvmTargets`."""
    return (torch.from_numpy(train), devkit(train_targets),
            torch.from_numpy(test), devkit(test_targets))


def _voc07_data():
    rng = np.random.default_rng(15)
    return _multilabel_set(rng, 45, 4) + _multilabel_set(rng, 30, 5)


def _normalised(features: np.ndarray) -> np.ndarray:
    return features / np.linalg.norm(features, axis=1, keepdims=True)


def test_voc07_svm_matches_linear_svc_loop():
    """Test AP per cost is the devkit AP of LinearSVC on normalised
    features (difficult trainval images as negatives, difficult test images
    ignored); the chosen cost maximises the CV AP; the mAP averages."""
    train, train_targets, test, test_targets = _voc07_data()
    result = voc07_svm(*svm_inputs(train, train_targets, test, test_targets),
                       costs=SMALL_COSTS, **TIGHT)
    assert result['costs'] == list(SMALL_COSTS)
    for cls in range(3):
        labels = np.where(train_targets[:, cls] == 1, 1, -1)
        for index, cost in enumerate(SMALL_COSTS):
            decision, _ = sklearn_fit(_normalised(train), labels, cost,
                                      _normalised(test))
            assert result['test_ap_per_cost'][cls][index] == pytest.approx(
                voc_ap(decision, test_targets[:, cls]), abs=1e-9)
        best = int(np.argmax(result['cv_ap'][cls]))
        assert result['chosen_cost'][cls] == SMALL_COSTS[best]
        assert result['ap'][cls] == result['test_ap_per_cost'][cls][best]
    assert result['map'] == pytest.approx(np.mean(result['ap']))


def test_voc07_svm_difficult_trainval_images_are_negatives():
    train, train_targets, test, test_targets = _voc07_data()
    assert (train_targets == 0).any()
    results = [
        voc07_svm(torch.from_numpy(train), devkit(targets),
                  torch.from_numpy(test), devkit(test_targets),
                  costs=SMALL_COSTS, **TIGHT)
        for targets in (train_targets, np.where(train_targets == 0, -1,
                                                train_targets))
    ]
    assert results[0] == results[1]


def _designed_test_set():
    """Class-0 test images whose ranking is clear by construction.

    Rows 0-2: class-0 positives (prototype 0); rows 3-6: negatives
    (prototypes 1 and 2); row 7: a class-0 positive at minus prototype 0,
    scored below every negative; row 8: difficult for every class.
    """
    features = np.zeros((9, 8))
    features[[0, 1, 2], 0] = 1
    features[[3, 4], 1] = 1
    features[[5, 6], 2] = 1
    features[7, 0] = -1
    features[8, :3] = 1
    features[:, 3:] = 0.05 * np.random.default_rng(16).normal(size=(9, 5))
    targets = -np.ones((9, 3), dtype=np.int64)
    targets[[0, 1, 2, 7], 0] = 1
    targets[[3, 4], 1] = 1
    targets[[5, 6], 2] = 1
    targets[8] = 0
    return features, targets


def _designed_voc07(test_features, test_targets) -> dict:
    """voc07_svm trained on clean single- and double-label trainval."""
    train, train_targets = _multilabel_set(np.random.default_rng(17), 45, 0)
    return voc07_svm(torch.from_numpy(train), devkit(train_targets),
                     torch.from_numpy(test_features), devkit(test_targets),
                     costs=SMALL_COSTS, **TIGHT)


def test_voc07_svm_ignores_difficult_test_images():
    """Hand calculation on the designed test set (8 scored images, ranking
    +, +, +, four -, + for class 0; interpolated AP):

    * as is: 3/4 * 1 + 1/4 * 4/8 = 7/8;
    * the last positive difficult: 1;
    * a top positive difficult: 2/3 * 1 + 1/3 * 3/7 = 17/21;
    * a negative difficult: 3/4 * 1 + 1/4 * 4/7 = 25/28;
    and moving the always-difficult image changes no AP.
    """
    features, targets = _designed_test_set()
    cases = {None: 7 / 8, 7: 1.0, 0: 17 / 21, 4: 25 / 28}
    for row, expected in cases.items():
        marked = targets.copy()
        if row is not None:
            marked[row, 0] = 0
        class0 = _designed_voc07(features, marked)['test_ap_per_cost'][0]
        np.testing.assert_allclose(class0, expected, rtol=1e-12)
    moved = features.copy()
    moved[8] = [-3, 2, -1, 5, 0, 0, 0, 1]
    reference = _designed_voc07(features, targets)
    after_move = _designed_voc07(moved, targets)
    np.testing.assert_allclose(after_move['test_ap_per_cost'],
                               reference['test_ap_per_cost'], rtol=1e-12)


@pytest.mark.parametrize('where, value, pattern', [
    ('train features', float('nan'), 'NaN or Inf'),
    ('test features', float('inf'), 'NaN or Inf'),
    ('train rows', None, 'SVM train split: 44 feature rows but 45 target'),
    ('test targets', None, 'test_targets must be SvmTargets, got Tensor'),
])
def test_voc07_svm_input_errors(where, value, pattern):
    arrays = dict(zip(('train', 'train targets', 'test', 'test targets'),
                      svm_inputs(*_voc07_data())))
    if where == 'train rows':
        arrays['train'] = arrays['train'][1:]
    elif where == 'test targets':
        arrays[where] = arrays[where].to_array('voc_devkit')
    else:
        arrays[where.split()[0]][3, 1] = value
    error = TypeError if where == 'test targets' else ValueError
    with pytest.raises(error, match=pattern):
        voc07_svm(*arrays.values(), costs=SMALL_COSTS)


# ----------------------------------------------------------------- low-shot
def _low_shot_data():
    """80 trainval images (each class with 38+ non-positives, some
    difficult) and 30 test images."""
    rng = np.random.default_rng(18)
    return _multilabel_set(rng, 80, 10) + _multilabel_set(rng, 30, 3)


def test_draws_reproducible_and_well_formed():
    _, targets, _, _ = _low_shot_data()
    shots = (1, 2)
    samples = draw_low_shot_samples(devkit(targets), shots, seed=3)
    again = draw_low_shot_samples(devkit(targets), shots, seed=3)
    other = draw_low_shot_samples(devkit(targets), shots, seed=4)
    assert sorted(samples) == list(shots)
    for shot in shots:
        chosen = samples[shot]
        assert chosen.dtype == np.int64
        assert chosen.shape == (NUM_DRAWS, 3, shot *
                                (1 + NEGATIVES_PER_POSITIVE))
        np.testing.assert_array_equal(chosen, again[shot])
        assert not np.array_equal(chosen, other[shot])
        for cls in range(3):
            draws = chosen[:, cls]
            assert np.all(targets[draws[:, :shot], cls] == 1)
            assert np.all(targets[draws[:, shot:], cls] != 1)
            assert all(len(set(draw)) == len(draw) for draw in draws)
            assert len({tuple(sorted(draw)) for draw in draws}) == NUM_DRAWS
    # a class's difficult images are eligible negatives of that class
    assert any(
        set(np.nonzero(targets[:, cls] == 0)[0])
        & set(samples[2][:, cls, 2:].ravel()) for cls in range(3))


def test_draws_need_enough_positives_and_negatives():
    _, targets, _, _ = _low_shot_data()
    targets = targets.copy()
    targets[:, 1] = np.where(targets[:, 1] == 1, -1, targets[:, 1])
    targets[5, 1] = 1
    with pytest.raises(ValueError, match=r'k=2: class 1 has 1 positives'):
        draw_low_shot_samples(devkit(targets), (1, 2))
    with pytest.raises(ValueError, match=r'k=4: class \d has .* negatives'):
        draw_low_shot_samples(devkit(targets[:70]), (4, ))


def test_save_and_load_draws(tmp_path):
    _, targets, _, _ = _low_shot_data()
    samples = draw_low_shot_samples(devkit(targets), (1, 2))
    path = str(tmp_path / 'draws.npz')
    save_low_shot_samples(samples, path, seed=0)
    loaded = load_low_shot_samples(path, len(targets), 3)
    assert sorted(loaded) == [1, 2]
    for shot in (1, 2):
        np.testing.assert_array_equal(loaded[shot], samples[shot])
    largest = int(max(chosen.max() for chosen in samples.values()))
    with pytest.raises(ValueError, match=re.escape(path)):
        load_low_shot_samples(path, largest, 3)
    with pytest.raises(ValueError, match=re.escape(path)):
        load_low_shot_samples(path, len(targets), 4)


def _reference_low_shot(train, train_targets, test, test_targets, samples):
    """The low-shot protocol with a LinearSVC loop.

    Returns:
        dict: per k, ``cv`` (draws x classes x costs CV AP, NaN for k = 1)
        and ``test`` (draws x classes x costs test AP).
    """
    train, test = _normalised(train), _normalised(test)
    out = {}
    for shot, chosen in samples.items():
        cv = np.full(chosen.shape[:2] + (len(SMALL_COSTS), ), np.nan)
        test_ap = np.empty_like(cv)
        for draw, cls, index in np.ndindex(*cv.shape):
            rows = chosen[draw, cls]
            labels = np.where(train_targets[rows, cls] == 1, 1, -1)
            cost = SMALL_COSTS[index]
            decision, _ = sklearn_fit(train[rows], labels, cost, test)
            test_ap[draw, cls, index] = voc_ap(decision, test_targets[:, cls])
            if shot > 1:
                cv[draw, cls, index] = cross_val_score(
                    linear_svc(cost), train[rows], labels,
                    cv=StratifiedKFold(min(3, shot)),
                    scoring='average_precision').mean()
        out[shot] = dict(cv=cv, test=test_ap)
    return out


@pytest.mark.parametrize('one_draw_per_batch', [False, True])
def test_low_shot_svm_matches_linear_svc_loop(one_draw_per_batch,
                                              monkeypatch):
    """Also when the memory budget solves the draws one batch at a time."""
    if one_draw_per_batch:
        monkeypatch.setattr(
            importlib.import_module('mmodc.evaluation.svm.low_shot_svm'),
            'DRAW_BATCH_BYTES', 1)
    data = _low_shot_data()
    samples = draw_low_shot_samples(devkit(data[1]), (1, 2))
    result = low_shot_svm(*svm_inputs(*data), samples,
                          costs=SMALL_COSTS, **TIGHT)
    reference = _reference_low_shot(*data, samples)
    assert sorted(result) == [1, 2]
    for shot in (1, 2):
        report, test_ap = result[shot], reference[shot]['test']
        map_per_draw = test_ap.mean(1)
        np.testing.assert_allclose(report['map_per_cost'],
                                   map_per_draw.mean(0), atol=1e-9)
        best = int(np.argmax(report['map_per_cost']))
        assert report['reference']['cost'] == SMALL_COSTS[best]
        assert report['reference']['map_mean'] == pytest.approx(
            map_per_draw[:, best].mean())
        assert report['reference']['map_std'] == pytest.approx(
            map_per_draw[:, best].std())
        cross_validated = report['cross_validated']
        assert cross_validated['cv_from_k'] == 2
        choice = reference[2]['cv'].argmax(2)[..., None]
        chosen_map = np.take_along_axis(test_ap, choice, 2)[..., 0].mean(1)
        assert cross_validated['map_mean'] == pytest.approx(chosen_map.mean())
        assert cross_validated['map_std'] == pytest.approx(chosen_map.std())


def test_low_shot_svm_without_k2_has_no_cross_validated_k1():
    data = _low_shot_data()
    samples = draw_low_shot_samples(devkit(data[1]), (1, ),
                                    num_draws=2)
    result = low_shot_svm(*svm_inputs(*data), samples,
                          costs=SMALL_COSTS, **TIGHT)
    assert result[1]['cross_validated'] == dict(map_mean=None, map_std=None,
                                                cv_from_k=None)
    assert result[1]['reference']['cost'] == SMALL_COSTS[int(
        np.argmax(result[1]['map_per_cost']))]
