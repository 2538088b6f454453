"""VOC07 (low-shot) SVM benchmark of multi-level frozen features.

Extraction: the benchmark config's model (an MMPretrain ``ImageClassifier``
with a ``MultiLevelResNet`` and a ``MultiPooling`` neck, no head) gives one
pooled map per level (feature1..feature5); each is flattened. Targets: a
VOC dataset gives per class the images where it is present and those where
it is present only as difficult objects
(:class:`~mmodc.evaluation.svm.SvmTargets`); a single-label dataset (e.g.
Fashion-MNIST) gives one-vs-rest positives. Then
:func:`mmodc.evaluation.svm.voc07_svm` and
:func:`mmodc.evaluation.svm.low_shot_svm` per level. Features and targets
extracted by other pipelines are read by :func:`read_feature_file` and
:func:`read_target_file`.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch.utils.data import DataLoader

from mmodc.engine.extractor import extract_features
from mmodc.evaluation.functional import mean_and_std
from mmodc.evaluation.svm import SvmTargets, low_shot_svm, voc07_svm
from .knn_benchmark import dataset_labels


def dataset_targets(dataset) -> SvmTargets:
    """The SVM targets of a classification dataset.

    Args:
        dataset: An MMPretrain-style dataset: multi-label ones (VOC) have
            ``gt_label`` lists and ``gt_label_difficult`` (a class present
            only as difficult objects is difficult); single-label ones
            ``get_gt_labels()`` (one-vs-rest, none difficult).

    Returns:
        SvmTargets: One column per class of the dataset's
        ``metainfo['classes']``.
    """
    num_classes = len(dataset.metainfo.get('classes') or ())
    if 'gt_label_difficult' in dataset.get_data_info(0):
        return _multi_label_targets(dataset, num_classes)
    labels = dataset_labels(dataset)
    return SvmTargets.one_vs_rest(
        labels, max(num_classes, int(labels.max()) + 1))


def _multi_label_targets(dataset, num_classes: int) -> SvmTargets:
    """VOC targets: the listed labels are positives, the listed difficult
    labels that are not also positives are difficult."""
    infos = [dataset.get_data_info(index) for index in range(len(dataset))]
    shape = (len(dataset), num_classes)
    positive = torch.zeros(shape, dtype=torch.bool)
    difficult = torch.zeros(shape, dtype=torch.bool)
    difficult[_label_positions(infos, 'gt_label_difficult')] = True
    positive[_label_positions(infos, 'gt_label')] = True
    return SvmTargets(positive=positive, difficult=difficult & ~positive)


def _label_positions(infos: List[dict], key: str) -> tuple:
    """(sample, class) index tensors of every label listed under ``key``."""
    rows = [index for index, info in enumerate(infos) for _ in info[key]]
    columns = [label for info in infos for label in info[key]]
    return (torch.tensor(rows, dtype=torch.long),
            torch.tensor(columns, dtype=torch.long))


def extract_levels(model: nn.Module, dataloader: DataLoader,
                   levels: Sequence[int]) -> Dict[int, torch.Tensor]:
    """Features of every level for a whole dataset (gathered over ranks).

    The levels are flattened and concatenated for the extraction, then
    split again.

    Args:
        model (nn.Module): The multi-level model.
        dataloader (DataLoader): An unshuffled extraction dataloader.
        levels (Sequence[int]): The levels the model's neck outputs (e.g.
            ``model.neck.levels``), in order.

    Returns:
        dict[int, torch.Tensor]: ``N x d_level`` features per level.
    """
    dims: List[int] = []

    def concatenated_levels(model: nn.Module, data: dict) -> torch.Tensor:
        flat = [level.flatten(1) for level in model.extract_feat(
            data['inputs'])]
        dims[:] = [level.shape[1] for level in flat]
        return torch.cat(flat, dim=1)

    features = extract_features(model, dataloader, concatenated_levels)
    if len(dims) != len(levels):
        raise ValueError(f'The model outputs {len(dims)} levels but '
                         f'{list(levels)} were named.')
    return dict(zip(levels, features.split(dims, dim=1)))


def run_svm_benchmark(train: Dict[int, torch.Tensor],
                      train_targets: SvmTargets,
                      test: Dict[int, torch.Tensor],
                      test_targets: SvmTargets,
                      full_levels: Sequence[int],
                      low_shot_levels: Sequence[int],
                      samples: Optional[Dict[int, np.ndarray]] = None,
                      **solver_options) -> dict:
    """The full and low-shot SVM results of the chosen levels.

    Args:
        train (dict[int, torch.Tensor]): Trainval features per level.
        train_targets (SvmTargets): The ``N x L`` trainval targets.
        test (dict[int, torch.Tensor]): Test features per level.
        test_targets (SvmTargets): The ``M x L`` test targets.
        full_levels (Sequence[int]): Levels for the full VOC07 SVM.
        low_shot_levels (Sequence[int]): Levels for the low-shot SVMs.
        samples (dict[int, np.ndarray], optional): The low-shot draws;
            required with ``low_shot_levels``.
        **solver_options: ``dtype``, ``device`` and solver options.

    Returns:
        dict: ``full`` and ``low_shot``, keyed ``feature{level}``.
    """
    missing = sorted((set(full_levels) | set(low_shot_levels)) - set(train))
    if missing:
        raise ValueError(f'SVM benchmark: levels {missing} were not '
                         f'extracted (the model gives {sorted(train)}).')
    result = dict(full={}, low_shot={})
    for level in full_levels:
        result['full'][f'feature{level}'] = voc07_svm(
            train[level], train_targets, test[level], test_targets,
            **solver_options)
        print_log(f'VOC07 SVM: feature{level} done', logger='current')
    for level in low_shot_levels:
        result['low_shot'][f'feature{level}'] = low_shot_svm(
            train[level], train_targets, test[level], test_targets, samples,
            **solver_options)
    return result


def svm_table(result: dict) -> str:
    """Markdown tables of :func:`run_svm_benchmark`, mAP in percent."""
    lines = []
    if result['full']:
        lines += ['VOC07 SVM (cost per class by 3-fold CV on trainval):',
                  '| level | test mAP (%) |', '|---|---:|']
        lines += [f'| {name} | {100 * full["map"]:.2f} |'
                  for name, full in result['full'].items()]
    for name, per_shot in result['low_shot'].items():
        lines += [
            '', f'Low-shot SVM, {name} (test mAP %, mean ± std over draws):',
            '| k | reference selection (cost on test) | cost | '
            'cross-validated selection |', '|---:|---:|---:|---:|'
        ]
        lines += [_low_shot_row(shot, row) for shot, row in per_shot.items()]
    return '\n'.join(lines)


def _low_shot_row(shot: int, row: dict) -> str:
    """One k's table row of a :func:`~mmodc.evaluation.svm.low_shot_svm`
    report (``row``), mAP in percent."""
    reference, honest = row['reference'], row['cross_validated']
    honest_text = 'n/a' if honest['map_mean'] is None else (
        f"{100 * honest['map_mean']:.2f} ± {100 * honest['map_std']:.2f}")
    if honest.get('cv_from_k') not in (None, shot):
        honest_text += f" (costs from k={honest['cv_from_k']})"
    return (f"| {shot} | {100 * reference['map_mean']:.2f} ± "
            f"{100 * reference['map_std']:.2f} | {reference['cost']:g} | "
            f'{honest_text} |')


def low_shot_comparison(runs: Dict[str, List[dict]], level: str,
                        selection: str) -> Dict[str, Dict[str, tuple]]:
    """Low-shot mAP of several feature sets side by side, each the mean
    over its training runs (seeds).

    Args:
        runs (dict[str, list[dict]]): Per feature set, the results of
            ``tools/benchmarks/svm_voc07.py`` (its ``svm_voc07.json``) of
            each training seed, all with the same shots.
        level (str): The level to compare, e.g. ``'feature5'``.
        selection (str): ``'cross_validated'`` (costs chosen without the
            test set) or ``'reference'`` (the best cost on the test set,
            as the published tables).

    Returns:
        dict[str, dict[str, tuple]]: Per shot, per feature set ``(mean,
        spread)`` of the test mAP in percent: over the seeds the mean of
        each seed's draws and their population std, or with one seed the
        mean and std over its draws.
    """
    tables = {name: [_low_shot_level(result, level, name)
                     for result in results]
              for name, results in runs.items()}
    shots = _common_shots(tables)
    return {shot: {name: _seed_summary([table[shot][selection]
                                        for table in seeds])
                   for name, seeds in tables.items()}
            for shot in shots}


def _low_shot_level(result: dict, level: str, name: str) -> dict:
    """One result's low-shot rows of ``level``, or a clear error."""
    low_shot = result.get('low_shot', {})
    if level not in low_shot:
        raise ValueError(
            f'{name}: no low-shot SVM of {level} in {result.get("checkpoint")}'
            f' (levels: {sorted(low_shot)}); run svm_voc07.py with '
            f'--low-shot-levels {level[len("feature"):]}.')
    return low_shot[level]


def _common_shots(tables: Dict[str, List[dict]]) -> List[str]:
    """The shots of the first table, checked against every other."""
    shots = list(next(iter(tables.values()))[0])
    for name, seeds in tables.items():
        for table in seeds:
            if list(table) != shots:
                raise ValueError(
                    f'{name}: shots {list(table)} differ from {shots}; '
                    'compare runs of the same --shots.')
    return shots


def _seed_summary(rows: List[dict]) -> tuple:
    """``(mean, spread)`` in percent of one shot's rows, one per seed."""
    if rows[0]['map_mean'] is None:
        return None
    if len(rows) == 1:
        return 100 * rows[0]['map_mean'], 100 * rows[0]['map_std']
    mean, std = mean_and_std([row['map_mean'] for row in rows])
    return 100 * mean, 100 * std


def low_shot_comparison_table(comparison: Dict[str, Dict[str, tuple]]) -> str:
    """Markdown of :func:`low_shot_comparison`: a row per shot, a column
    per feature set, and a last row with each set's mean over the shots."""
    names = list(next(iter(comparison.values())))
    lines = ['| k | ' + ' | '.join(names) + ' |',
             '|---:|' + '---:|' * len(names)]
    for shot, row in comparison.items():
        cells = ['n/a' if row[name] is None else
                 f'{row[name][0]:.2f} ± {row[name][1]:.2f}'
                 for name in names]
        lines.append(f'| {shot} | ' + ' | '.join(cells) + ' |')
    means = [np.mean([row[name][0] for row in comparison.values()
                      if row[name] is not None]) for name in names]
    lines.append('| mean | ' + ' | '.join(f'{m:.2f}' for m in means) + ' |')
    return '\n'.join(lines)


def read_feature_file(path: str, level: int) -> Dict[int, torch.Tensor]:
    """Precomputed ``N x d`` features per level from another pipeline.

    Args:
        path (str): A ``.npy`` file holding one level's features (as the
            reference extractors write them: one file per layer and split)
            or an ``.npz`` file with arrays ``feature1`` ... ``feature5``.
        level (int): The level a ``.npy`` file's features are.

    Returns:
        dict[int, torch.Tensor]: The features by level (rows flattened).
    """
    if path.endswith('.npy'):
        return {level: _feature_rows(np.load(path), path)}
    if not path.endswith('.npz'):
        raise ValueError(f'{path}: features must be a .npy or .npz file.')
    with np.load(path) as archive:
        levels = {
            int(key[len('feature'):]): _feature_rows(archive[key],
                                                     f'{path}[{key}]')
            for key in archive.files
            if key.startswith('feature') and key[len('feature'):].isdigit()
        }
        keys = archive.files
    if not levels:
        raise ValueError(f'{path}: no arrays named feature1 ... feature5 '
                         f'(found {keys}).')
    return levels


def _feature_rows(array: np.ndarray, name: str) -> torch.Tensor:
    """A feature array as float ``N x d`` rows, or an error naming it."""
    if array.ndim < 2 or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f'{name}: features must be a numeric array of '
                         f'samples x dims, got shape {array.shape} of '
                         f'{array.dtype}.')
    return torch.from_numpy(np.ascontiguousarray(array)).flatten(1).float()


def read_target_file(path: str, convention: str) -> SvmTargets:
    """Precomputed ``N x L`` targets written in a named convention.

    Args:
        path (str): A ``.npy`` file, or an ``.npz`` file with an array
            ``targets``.
        convention (str): A key of
            :data:`mmodc.evaluation.svm.TARGET_CONVENTIONS`.

    Returns:
        SvmTargets: The targets.
    """
    if path.endswith('.npy'):
        values = np.load(path)
    elif path.endswith('.npz'):
        with np.load(path) as archive:
            if 'targets' not in archive.files:
                raise ValueError(f'{path}: no array named targets (found '
                                 f'{archive.files}).')
            values = archive['targets']
    else:
        raise ValueError(f'{path}: targets must be a .npy or .npz file.')
    return SvmTargets.from_array(values, convention, name=path)
