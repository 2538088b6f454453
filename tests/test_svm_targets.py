"""SVM targets in named conventions (:class:`SvmTargets`), and the SVM tool
on files in the layout of the reference benchmark scripts, against the
reference algorithm (a LinearSVC per class and cost, 3-fold CV, the VOC
devkit's AP) run on the same files."""
import importlib.util
import os.path as osp
import warnings

import numpy as np
import pytest
import torch
from conftest import REPO
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, cross_val_score
from sklearn.svm import LinearSVC

from mmodc.evaluation.svm import (
    REFERENCE_COSTS,
    TARGET_CONVENTIONS,
    SvmTargets,
    draw_low_shot_samples,
    low_shot_svm,
    voc07_svm,
)

TOOL = osp.join(REPO, 'tools', 'benchmarks', 'svm_voc07.py')
# what FAIR's benchmark files (and the VOC devkit lists) write for the same
# image-class pairs: present, absent, difficult
PAIRS = np.array([[1, 0, -1], [0, 1, 0], [-1, 0, 1]])
DEVKIT_PAIRS = np.array([[1, -1, 0], [-1, 1, -1], [0, -1, 1]])


def load_tool():
    spec = importlib.util.spec_from_file_location('svm_voc07_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_both_conventions_read_the_same_targets():
    fair = SvmTargets.from_array(PAIRS, 'fair_benchmark')
    devkit = SvmTargets.from_array(DEVKIT_PAIRS, 'voc_devkit')
    for targets in (fair, devkit):
        assert targets.positive.tolist() == [[True, False, False],
                                             [False, True, False],
                                             [False, False, True]]
        assert targets.difficult.tolist() == [[False, False, True],
                                              [False, False, False],
                                              [True, False, False]]
    assert fair.to_array('voc_devkit').tolist() == DEVKIT_PAIRS.tolist()
    assert devkit.to_array('fair_benchmark').tolist() == PAIRS.tolist()
    assert sorted(TARGET_CONVENTIONS) == sorted(
        load_tool().PRECOMPUTED_CONVENTIONS)


def test_training_counts_difficult_as_negative_and_the_test_ignores_it():
    targets = SvmTargets.from_array(PAIRS, 'fair_benchmark')
    assert targets.training_labels().tolist() == [[1, -1, -1], [-1, 1, -1],
                                                  [-1, -1, 1]]
    assert targets.scored_labels().tolist() == DEVKIT_PAIRS.tolist()


def test_values_outside_the_convention_are_refused():
    values = PAIRS.copy()
    values[1, 2] = 2
    with pytest.raises(ValueError,
                       match=r"T.npy: read in the 'fair_benchmark' "
                       r'convention .* 1 entries outside it \(values 2\)'):
        SvmTargets.from_array(values, 'fair_benchmark', name='T.npy')
    with pytest.raises(ValueError, match=r"Unknown target convention 'voc'"):
        SvmTargets.from_array(PAIRS, 'voc')
    with pytest.raises(ValueError, match='samples x classes'):
        SvmTargets.from_array(PAIRS[0], 'voc_devkit')


def test_masks_are_checked():
    positive = torch.tensor([[True, False]])
    with pytest.raises(ValueError, match='both positive and difficult'):
        SvmTargets(positive=positive, difficult=positive.clone())
    with pytest.raises(TypeError, match='bool tensor, got Tensor of'):
        SvmTargets(positive=positive.long(), difficult=~positive)
    with pytest.raises(ValueError, match='label 3 does not fit 3 classes'):
        SvmTargets.one_vs_rest(torch.tensor([0, 3]), 3)


def reference_files_targets(rng: np.random.Generator, num: int,
                            classes: int) -> np.ndarray:
    """``num x classes`` targets as FAIR's benchmark files hold them: about
    20 % present (1), 3 % difficult (-1), the rest absent (0)."""
    draw = rng.random((num, classes))
    targets = np.where(draw < 0.2, 1, np.where(draw < 0.23, -1, 0))
    targets[:3] = 1  # every class has positives in every split
    return targets


def features_of(rng: np.random.Generator, targets: np.ndarray,
                dims: int) -> np.ndarray:
    """Features around one prototype per present (or difficult) class."""
    features = 0.8 * rng.normal(size=(len(targets), dims))
    features[:, :targets.shape[1]] += targets != 0
    return features.astype(np.float32)


@pytest.fixture(scope='module')
def reference_files(tmp_path_factory):
    """trainval / test features (.npy, one layer per file) and targets in
    the layout of the reference benchmark scripts."""
    folder = tmp_path_factory.mktemp('reference_format')
    rng = np.random.default_rng(16)
    paths = {}
    for split, num in (('trainval', 240), ('test', 160)):
        targets = reference_files_targets(rng, num, 4)
        paths[f'{split}_targets'] = str(folder / f'{split}_labels.npy')
        paths[f'{split}_features'] = str(folder / f'{split}_feat5.npy')
        np.save(paths[f'{split}_targets'], targets.astype(np.int32))
        np.save(paths[f'{split}_features'], features_of(rng, targets, 24))
    return paths


def reference_ap(scores: np.ndarray, targets: np.ndarray) -> float:
    """The reference AP of one class on benchmark-format targets: drop the
    difficult (-1) images, sort by score, the area under the precision
    envelope (the VOC devkit's)."""
    kept = targets != -1
    positive = targets[kept][np.argsort(-scores[kept], kind='stable')] == 1
    hits = np.cumsum(positive)
    recall = np.concatenate([[0.], hits / positive.sum(), [1.]])
    precision = np.concatenate(
        [[0.], hits / np.arange(1, len(hits) + 1), [0.]])
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(((recall[steps] - recall[steps - 1]) *
                  envelope[steps]).sum())


def reference_era_folds(labels: np.ndarray) -> list:
    """The (train, test) splits of ``StratifiedKFold(3)`` in the
    scikit-learn the reference scripts ran with (before 0.22): each label's
    samples cut into contiguous blocks by ``KFold(3)``. (Newer versions
    deal the labels round-robin, so fold membership differs a little.)"""
    fold = np.empty(len(labels), dtype=int)
    for sign in (1, -1):
        members = np.flatnonzero(labels == sign)
        for index, (_, held_out) in enumerate(KFold(3).split(members)):
            fold[members[held_out]] = index
    return [(np.flatnonzero(fold != index), np.flatnonzero(fold == index))
            for index in range(3)]


def reference_benchmark(paths: dict) -> np.ndarray:
    """Per class test AP of the reference algorithm: per cost a LinearSVC
    (class weights 2 / 1, squared hinge, L2, tol 1e-4, 2000 iterations) on
    L2-normalised features with 0 and -1 as negatives, the cost of the best
    3-fold CV AP (scikit-learn's average precision), then the reference AP
    on test."""
    def normalised(path):
        features = np.load(path).astype(np.float64)
        return features / np.linalg.norm(features, axis=1, keepdims=True)

    train, test = (normalised(paths[f'{split}_features'])
                   for split in ('trainval', 'test'))
    train_targets = np.load(paths['trainval_targets'])
    test_targets = np.load(paths['test_targets'])
    per_class = []
    for cls in range(train_targets.shape[1]):
        labels = np.where(train_targets[:, cls] == 1, 1, -1)
        models = [LinearSVC(C=cost, class_weight={1: 2, -1: 1},
                            loss='squared_hinge', penalty='l2', dual=True,
                            tol=1e-4, max_iter=2000)
                  for cost in REFERENCE_COSTS]
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', ConvergenceWarning)
            folds = reference_era_folds(labels)
            cv_ap = [cross_val_score(model, train, labels, cv=folds,
                                     scoring='average_precision').mean()
                     for model in models]
            best = models[int(np.argmax(cv_ap))].fit(train, labels)
        per_class.append(reference_ap(best.decision_function(test),
                                      test_targets[:, cls]))
    return np.array(per_class)


def tool_argv(paths: dict, convention: str, work_dir) -> list:
    return [
        '--train-features', paths['trainval_features'],
        '--train-targets', paths['trainval_targets'],
        '--test-features', paths['test_features'],
        '--test-targets', paths['test_targets'],
        '--target-convention', convention, '--work-dir', str(work_dir)
    ]


def test_tool_on_reference_files_matches_the_reference_algorithm(
        reference_files, tmp_path):
    reference = reference_benchmark(reference_files)
    result = load_tool().main(
        tool_argv(reference_files, 'fair_benchmark', tmp_path))
    ap = np.array(result['full']['feature5']['ap'])
    assert 0.3 < reference.mean() < 0.95  # neither trivial nor chance
    np.testing.assert_allclose(100 * ap, 100 * reference, atol=0.5)
    assert 100 * abs(ap.mean() - reference.mean()) < 0.1
    assert osp.isfile(tmp_path / 'svm_voc07.json')
    assert result['target_convention'] == 'fair_benchmark'


def test_tool_refuses_reference_files_read_as_devkit(reference_files,
                                                     tmp_path):
    """The old misreading (absent images ignored as difficult, mAP far too
    high) is now an error that names the file and the other convention."""
    with pytest.raises(ValueError, match=r"trainval_labels.npy: read in the "
                       r"'voc_devkit' convention.*most likely in the "
                       r"'fair_benchmark' convention"):
        load_tool().main(tool_argv(reference_files, 'voc_devkit', tmp_path))


def test_tool_reads_npz_levels_and_targets(reference_files, tmp_path):
    """feature1 ... feature5 arrays of an .npz, targets under 'targets';
    the same numbers as the .npy files of the level."""
    npz = {}
    for split in ('trainval', 'test'):
        features = np.load(reference_files[f'{split}_features'])
        npz[f'{split}_features'] = str(tmp_path / f'{split}.npz')
        np.savez(npz[f'{split}_features'], feature4=features[:, :12],
                 feature5=features)
        npz[f'{split}_targets'] = str(tmp_path / f'{split}_targets.npz')
        np.savez(npz[f'{split}_targets'],
                 targets=np.load(reference_files[f'{split}_targets']))
    tool = load_tool()
    from_npz = tool.main(tool_argv(npz, 'fair_benchmark', tmp_path / 'a'))
    from_npy = tool.main(
        tool_argv(reference_files, 'fair_benchmark', tmp_path / 'b'))
    assert sorted(from_npz['full']) == ['feature4', 'feature5']
    assert from_npz['full']['feature5'] == from_npy['full']['feature5']


@pytest.mark.parametrize('drop, message', [
    ('--target-convention', '--target-convention is required'),
    ('--test-targets', 'missing: --test-targets'),
])
def test_tool_precomputed_usage_errors(reference_files, tmp_path, capsys,
                                       drop, message):
    argv = tool_argv(reference_files, 'fair_benchmark', tmp_path)
    index = argv.index(drop)
    del argv[index:index + 2]
    with pytest.raises(SystemExit) as exit_info:
        load_tool().parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_entry_points_refuse_unnamed_arrays():
    """voc07_svm, low_shot_svm and the draws take SvmTargets only: a bare
    {1, 0, -1} array would need a guessed convention."""
    rng = np.random.default_rng(3)
    targets = reference_files_targets(rng, 60, 2)
    features = torch.from_numpy(features_of(rng, targets, 8))
    named = SvmTargets.from_array(targets, 'fair_benchmark')
    bare = torch.from_numpy(targets)
    with pytest.raises(TypeError, match='train_targets must be SvmTargets'):
        voc07_svm(features, bare, features, named)
    with pytest.raises(TypeError, match='test_targets must be SvmTargets'):
        low_shot_svm(features, named, features, bare, {})
    with pytest.raises(TypeError, match='low-shot targets must be SvmTarg'):
        draw_low_shot_samples(bare, (1, ))
