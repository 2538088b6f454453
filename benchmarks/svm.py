"""VOC07 SVM benchmark work: mmodc's batched solver vs a LinearSVC loop.

Both do the full VOC07 SVM protocol on the SAME features in ONE run:
for each of the 20 classes and each of the 19 reference costs, 3-fold
stratified cross-validated AP on trainval, the cost with the best CV AP,
then the fit on all of trainval and the test AP at that cost.

* reference: FAIR's loop, one ``sklearn.svm.LinearSVC(C,
  class_weight={1: 2, -1: 1}, loss='squared_hinge', penalty='l2',
  dual=True, tol=1e-4, max_iter=2000)`` per class, cost and fold
  (``cross_val_score(..., cv=StratifiedKFold(3),
  scoring='average_precision')``) plus one fit on all of trainval per
  class and cost: 20 x 19 x 4 = 1,520 liblinear fits; run serially and
  then with the classes shared by a pool of ``--processes`` processes (2
  by default), the form of the reference's ``train_svm_kfold_parallel.py``
  (this loop written after it, not the reference scripts' code);
* mmodc: :func:`mmodc.evaluation.svm.voc07_svm`, all classes, costs and
  folds as one batched problem (float64, as the tool; ``--float32`` for
  the faster single precision).

Test AP is the VOC devkit's (interpolated) AP for both. Printed: both wall
times, their ratio, both test mAPs and their difference in points (target:
at least 5x faster, mAP within 0.3 points).

Synthetic VOC-sized data (fixed seed): 5,011 trainval / 4,952 test
samples, 20 labels drawn with VOC-like frequencies (3-20 % each, at least
one per image, about 5 % of the positives marked difficult in the test
set), 8,192 dims: ReLU of a weak class signal plus Gaussian noise,
L2-normalised, so that the classes are neither trivial nor hopeless.

Example::

    python benchmarks/svm.py                 # ~40 s + ~30 min on 2 cores
    python benchmarks/svm.py --classes 8     # ~25 s + ~13 min
    python benchmarks/svm.py --device cuda   # mmodc's solve on a GPU
"""
import argparse
import multiprocessing
import os.path as osp
import sys

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _machine_load import OtherLoad  # noqa: E402

from mmodc.evaluation.svm import (  # noqa: E402
    POSITIVE_WEIGHT,
    REFERENCE_COSTS,
    SvmTargets,
    average_precision,
    voc07_svm,
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-train', type=int, default=5011)
    parser.add_argument('--num-test', type=int, default=4952)
    parser.add_argument('--dims', type=int, default=8192)
    parser.add_argument('--classes', type=int, default=20,
                        help='labels to run (both sides); default all 20')
    parser.add_argument('--signal', type=float, default=0.04,
                        help='strength of the class signal in the features')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--float32', action='store_true',
                        help='solve in float32 (default float64)')
    parser.add_argument('--processes', type=int, default=2,
                        help='processes of the parallel reference loop '
                        '(default 2: the cores of the CI machine)')
    return parser.parse_args()


def synthetic_voc(args) -> tuple:
    """Features and targets (VOC devkit values: 1 present, -1 absent, 0
    difficult) of a synthetic VOC-sized set."""
    rng = np.random.default_rng(args.seed)
    total = args.num_train + args.num_test
    frequency = rng.uniform(0.03, 0.2, args.classes)
    positive = rng.random((total, args.classes)) < frequency
    unlabelled = ~positive.any(1)
    positive[unlabelled, rng.integers(0, args.classes,
                                      unlabelled.sum())] = True
    prototypes = rng.standard_normal((args.classes, args.dims),
                                     dtype=np.float32)
    features = args.signal * positive.astype(np.float32) @ prototypes
    features += rng.standard_normal((total, args.dims), dtype=np.float32)
    np.maximum(features, 0, out=features)
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    targets = np.where(positive, 1, -1)
    test_targets = targets[args.num_train:]
    difficult = (test_targets == 1) & (rng.random(test_targets.shape) < 0.05)
    test_targets[difficult] = 0
    return (features[:args.num_train], targets[:args.num_train],
            features[args.num_train:], test_targets)


#: The data of the reference loop's workers (inherited through fork, as
#: each process of the reference's parallel script loads the same files).
_REFERENCE_DATA = {}


def reference_class(cls: int) -> tuple:
    """FAIR's per-class work: every cost's 3-fold CV AP and fit, the cost
    with the best CV AP; returns ``(cls, its test decision values)``."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.svm import LinearSVC
    train_x, train_y, test_x = (_REFERENCE_DATA[key]
                                for key in ('train_x', 'train_y', 'test_x'))
    labels = np.where(train_y[:, cls] == 1, 1, -1)
    best_cost, best_ap = None, -1.
    models = {}
    for cost in REFERENCE_COSTS:
        svm = LinearSVC(
            C=cost, class_weight={1: POSITIVE_WEIGHT, -1: 1},
            intercept_scaling=1.0, penalty='l2', loss='squared_hinge',
            tol=1e-4, dual=True, max_iter=2000)
        cv_ap = cross_val_score(
            svm, train_x, labels, cv=StratifiedKFold(3),
            scoring='average_precision').mean()
        models[cost] = svm.fit(train_x, labels)
        if cv_ap > best_ap:
            best_cost, best_ap = cost, cv_ap
    print(f'  reference: class {cls} done, cost {best_cost}', flush=True)
    return cls, models[best_cost].decision_function(test_x)


def reference_loop(train_x, train_y, test_x, test_y,
                   processes: int = 1) -> np.ndarray:
    """FAIR's per-class scikit-learn loop, serial (``processes=1``) or over
    the classes in a pool of processes (the form of the reference's
    ``train_svm_kfold_parallel.py``); returns the test AP per class."""
    _REFERENCE_DATA.update(train_x=train_x, train_y=train_y, test_x=test_x)
    classes = range(train_y.shape[1])
    if processes == 1:
        decisions = list(map(reference_class, classes))
    else:
        with multiprocessing.get_context('fork').Pool(processes) as pool:
            decisions = pool.map(reference_class, classes)
    scores = np.zeros((test_x.shape[0], train_y.shape[1]))
    for cls, decision in decisions:
        scores[:, cls] = decision
    return average_precision(
        torch.from_numpy(scores), torch.from_numpy(test_y),
        interpolated=True).numpy()


def main():
    args = parse_args()
    train_x, train_y, test_x, test_y = synthetic_voc(args)
    print(f'synthetic VOC: {len(train_x)} trainval / {len(test_x)} test, '
          f'{args.classes} labels, {args.dims} dims; '
          f'{torch.get_num_threads()} torch threads')
    dtype = torch.float32 if args.float32 else torch.float64
    with OtherLoad() as mmodc_load:
        result = voc07_svm(
            torch.from_numpy(train_x),
            SvmTargets.from_array(train_y, 'voc_devkit'),
            torch.from_numpy(test_x),
            SvmTargets.from_array(test_y, 'voc_devkit'), dtype=dtype,
            device=torch.device(args.device))
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()
    print(f'mmodc: {mmodc_load.wall:.1f} s, mAP {100 * result["map"]:.2f} '
          f'(other processes: {mmodc_load.describe()})', flush=True)
    for processes in (1, args.processes):
        with OtherLoad() as reference_load:
            reference_ap = reference_loop(train_x, train_y, test_x, test_y,
                                          processes)
        reference_map = float(np.mean(reference_ap))
        largest = np.abs(np.array(result['ap']) - reference_ap).max()
        name = ('reference LinearSVC loop, serial' if processes == 1 else
                f'reference LinearSVC loop in {processes} processes')
        print(f'{name}: {reference_load.wall:.1f} s, mAP '
              f'{100 * reference_map:.2f} (other processes: '
              f'{reference_load.describe()}); speed-up of mmodc '
              f'{reference_load.wall / mmodc_load.wall:.1f}x; mAP '
              f'difference {100 * (result["map"] - reference_map):+.2f} '
              f'points; largest per-class AP difference {100 * largest:.2f}'
              ' points', flush=True)


if __name__ == '__main__':
    main()
