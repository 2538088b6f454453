"""VOC07 (low-shot) SVM benchmark of multi-level frozen features.

Extraction: the benchmark config's model (an MMPretrain ``ImageClassifier``
with a ``MultiLevelResNet`` and a ``MultiPooling`` neck, no head) gives one
pooled map per level (feature1..feature5); each is flattened. Targets: a
VOC dataset gives ``1`` (present), ``0`` (only difficult objects) and ``-1``
per class; a single-label dataset (e.g. Fashion-MNIST) gives one-vs-rest
``1`` / ``-1``. Then :func:`mmodc.evaluation.svm.voc07_svm` and
:func:`mmodc.evaluation.svm.low_shot_svm` per level.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch.utils.data import DataLoader

from mmodc.engine.extractor import extract_features
from mmodc.evaluation.svm import low_shot_svm, voc07_svm
from .knn_benchmark import dataset_labels


def dataset_targets(dataset) -> torch.Tensor:
    """``N x L`` targets in ``{1, 0, -1}`` of a classification dataset.

    Args:
        dataset: An MMPretrain-style dataset: multi-label ones (VOC) have
            ``gt_label`` lists and ``gt_label_difficult``; single-label ones
            ``get_gt_labels()``.

    Returns:
        torch.Tensor: int64 targets, one column per class of the dataset's
        ``metainfo['classes']``.
    """
    num_classes = len(dataset.metainfo.get('classes') or ())
    if 'gt_label_difficult' in dataset.get_data_info(0):
        return _multi_label_targets(dataset, num_classes)
    labels = dataset_labels(dataset)
    num_classes = max(num_classes, int(labels.max()) + 1)
    return torch.where(
        labels[:, None] == torch.arange(num_classes), 1, -1)


def _multi_label_targets(dataset, num_classes: int) -> torch.Tensor:
    """VOC targets: present 1, only difficult 0, absent -1."""
    infos = [dataset.get_data_info(index) for index in range(len(dataset))]
    targets = torch.full((len(dataset), num_classes), -1, dtype=torch.long)
    targets[_label_positions(infos, 'gt_label_difficult')] = 0
    targets[_label_positions(infos, 'gt_label')] = 1
    return targets


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
                      train_targets: torch.Tensor,
                      test: Dict[int, torch.Tensor],
                      test_targets: torch.Tensor,
                      full_levels: Sequence[int],
                      low_shot_levels: Sequence[int],
                      samples: Optional[Dict[int, np.ndarray]] = None,
                      **solver_options) -> dict:
    """The full and low-shot SVM results of the chosen levels.

    Args:
        train (dict[int, torch.Tensor]): Trainval features per level.
        train_targets (torch.Tensor): ``N x L`` trainval targets.
        test (dict[int, torch.Tensor]): Test features per level.
        test_targets (torch.Tensor): ``M x L`` test targets.
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
