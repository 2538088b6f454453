"""kNN benchmark of frozen features: accuracy for several ``k``.

The protocol of InstDisc / DINO: L2-normalised features of a labelled
reference (training) set and of a query (validation) set; every query is
classified by its ``k`` most cosine-similar reference samples, each voting
with weight ``exp(cos / T)``.
"""
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from mmodc.engine.extractor import (
    extract_features,
    members_backbone_forward,
    pool_last_stage,
    pooled_backbone,
)
from mmodc.evaluation.functional import knn_accuracy

DEFAULT_KS = (10, 20, 100, 200)


def model_features(model: nn.Module, data: dict) -> torch.Tensor:
    """Forward for :func:`extract_features`: the model's ``extract_feat``.

    A tuple of outputs (MMPretrain classifiers) gives its last one; spatial
    maps are globally average-pooled.

    Args:
        model (nn.Module): A model with ``extract_feat``.
        data (dict): A preprocessed batch.

    Returns:
        torch.Tensor: ``B x d`` features.
    """
    feats = model.extract_feat(data['inputs'])
    return pool_last_stage(
        feats if isinstance(feats, (tuple, list)) else (feats, ))


FEATURE_FORWARDS: Dict[str, Callable[[nn.Module, dict], torch.Tensor]] = {
    'model': model_features,
    'backbone': pooled_backbone,
}


def dataset_labels(dataset) -> torch.Tensor:
    """The class labels of a dataset, in dataset order.

    Args:
        dataset: A dataset with ``get_gt_labels()`` (MMPretrain's datasets,
            mmodc's FashionMNIST, Places205, INat18).

    Returns:
        torch.Tensor: ``len(dataset)`` int64 labels.
    """
    if not hasattr(dataset, 'get_gt_labels'):
        raise TypeError(
            f'kNN: the dataset {type(dataset).__name__} has no '
            'get_gt_labels(); the kNN sets must be labelled classification '
            'datasets.')
    labels = torch.as_tensor(np.asarray(dataset.get_gt_labels()),
                             dtype=torch.long)
    if labels.shape != (len(dataset), ):
        raise ValueError(
            f'kNN: {type(dataset).__name__}.get_gt_labels() gave shape '
            f'{tuple(labels.shape)} for {len(dataset)} samples.')
    return labels


def extract_labelled_features(model: nn.Module,
                              dataloader: DataLoader,
                              kind: str = 'model',
                              show_progress: bool = True,
                              members: Optional[Sequence[str]] = None
                              ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Features and labels of a dataset (gathered over ranks).

    The features are returned as extracted; the kNN functions L2-normalise
    them (:func:`~mmodc.evaluation.knn_class_scores`).

    Args:
        model (nn.Module): The model, in eval mode during extraction.
        dataloader (DataLoader): An unshuffled dataloader whose samples
            carry ``sample_idx``.
        kind (str): 'model' (``extract_feat``) or 'backbone' (globally
            pooled last backbone stage). Defaults to 'model'.
        show_progress (bool): Progress bar on the main process.
        members (Sequence[str], optional): Members of a :class:`CODC`
            model whose pooled backbones are used, concatenated in this
            order (``kind`` is then ignored).

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``N x d`` features and ``N``
        labels.
    """
    if kind not in FEATURE_FORWARDS:
        raise ValueError(f'kNN: features must be one of '
                         f'{sorted(FEATURE_FORWARDS)}, got "{kind}".')
    forward = (members_backbone_forward(members)
               if members else FEATURE_FORWARDS[kind])
    labels = dataset_labels(dataloader.dataset)
    feats = extract_features(
        model, dataloader, forward=forward, show_progress=show_progress)
    return feats, labels


def knn_scores(train_features: torch.Tensor,
               train_labels: torch.Tensor,
               val_features: torch.Tensor,
               val_labels: torch.Tensor,
               ks: Sequence[int] = DEFAULT_KS,
               temperature: Optional[float] = 0.07,
               topk: Sequence[int] = (1, 5)) -> Dict[str, Dict[str, float]]:
    """kNN top-``n`` accuracies for every ``k``.

    Args:
        train_features (torch.Tensor): ``N x d`` reference features.
        train_labels (torch.Tensor): ``N`` reference labels.
        val_features (torch.Tensor): ``M x d`` query features.
        val_labels (torch.Tensor): ``M`` query labels.
        ks (Sequence[int]): Numbers of neighbours. Defaults to 10, 20, 100,
            200.
        temperature (float, optional): Votes weigh ``exp(cos / T)``; None
            for a majority vote. Defaults to 0.07.
        topk (Sequence[int]): Which top-``n`` accuracies. Defaults to (1, 5).

    Returns:
        dict[str, dict[str, float]]: For each ``k`` (as a string, the JSON
        key), ``{'top1': ..., 'top5': ...}`` as fractions in ``[0, 1]``.
    """
    too_large = [k for k in ks if k > train_features.shape[0]]
    if too_large:
        raise ValueError(
            f'kNN: k={too_large[0]} is more than the {train_features.shape[0]}'
            ' reference samples; use a larger training set or smaller k.')
    scores = {}
    for k in ks:
        accuracies = knn_accuracy(train_features, train_labels, val_features,
                                  val_labels, k, temperature, topk)
        scores[str(k)] = {
            f'top{n}': accuracy
            for n, accuracy in zip(topk, accuracies)
        }
    return scores


def knn_table(scores: Dict[str, Dict[str, float]]) -> str:
    """A markdown table of :func:`knn_scores`, accuracies in percent.

    Args:
        scores (dict): The result of :func:`knn_scores`.

    Returns:
        str: The table.
    """
    columns = list(next(iter(scores.values())))
    lines = [
        '| k | ' + ' | '.join(
            name.replace('top', 'top-') + ' (%)' for name in columns) + ' |',
        '|---:|' + '---:|' * len(columns)
    ]
    for k, row in scores.items():
        lines.append(f'| {k} | ' +
                     ' | '.join(f'{100 * row[name]:.2f}'
                                for name in columns) + ' |')
    return '\n'.join(lines)
