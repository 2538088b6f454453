"""k-nearest-neighbour classification of features by cosine similarity.

The weighted vote is the one of the InstDisc / DINO kNN monitor: each of the
``k`` nearest training samples votes for its class with weight
``exp(similarity / T)``. ``temperature=None`` gives a plain majority vote.
Test rows are processed in batches, so memory stays at
``batch_size x num_train`` similarities.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F


def _check_inputs(train_features: torch.Tensor, train_labels: torch.Tensor,
                  test_features: torch.Tensor, k: int) -> None:
    if train_features.dim() != 2 or test_features.dim() != 2:
        raise ValueError(
            'kNN: features must be 2-d (samples x dims), got '
            f'{tuple(train_features.shape)} and '
            f'{tuple(test_features.shape)}.')
    if train_features.shape[1] != test_features.shape[1]:
        raise ValueError(
            f'kNN: train features have {train_features.shape[1]} dims but '
            f'test features have {test_features.shape[1]}.')
    if train_labels.shape != (train_features.shape[0], ):
        raise ValueError(
            f'kNN: {train_features.shape[0]} train features but labels of '
            f'shape {tuple(train_labels.shape)}.')
    if not 1 <= k <= train_features.shape[0]:
        raise ValueError(
            f'kNN: k={k} must be in [1, {train_features.shape[0]}] (the '
            'number of training samples).')


@torch.no_grad()
def knn_class_scores(train_features: torch.Tensor,
                     train_labels: torch.Tensor,
                     test_features: torch.Tensor,
                     k: int = 20,
                     temperature: Optional[float] = 0.07,
                     num_classes: Optional[int] = None,
                     batch_size: int = 1024) -> torch.Tensor:
    """Per-class vote totals of the ``k`` nearest training samples.

    Features are L2-normalised here, so the similarity is the cosine.

    Args:
        train_features (torch.Tensor): ``N x d`` training features.
        train_labels (torch.Tensor): ``N`` class ids in ``[0, C)``.
        test_features (torch.Tensor): ``M x d`` query features.
        k (int): Number of neighbours. Defaults to 20.
        temperature (float, optional): Votes weigh ``exp(sim / T)``; None
            for one vote per neighbour (majority). Defaults to 0.07.
        num_classes (int, optional): ``C``; defaults to
            ``max(train_labels) + 1``.
        batch_size (int): Test rows per similarity block. Defaults to 1024.

    Returns:
        torch.Tensor: ``M x C`` float32 vote totals, on the device of the
        training features.
    """
    train_labels = torch.as_tensor(train_labels, dtype=torch.long,
                                   device=train_features.device)
    _check_inputs(train_features, train_labels, test_features, k)
    if temperature is not None and temperature <= 0:
        raise ValueError(
            f'kNN: temperature must be positive (or None), got {temperature}.')
    if num_classes is None:
        num_classes = int(train_labels.max()) + 1
    train = F.normalize(train_features.float(), dim=1)
    test = F.normalize(test_features.float().to(train.device), dim=1)
    scores = train.new_zeros(test.shape[0], num_classes)
    for start in range(0, test.shape[0], batch_size):
        similarity = test[start:start + batch_size] @ train.T
        top_sim, top_idx = similarity.topk(k, dim=1)
        if temperature is None:
            votes = torch.ones_like(top_sim)
        else:
            votes = (top_sim / temperature).exp()
        scores[start:start + batch_size].scatter_add_(
            1, train_labels[top_idx], votes)
    return scores


def knn_predict(train_features: torch.Tensor,
                train_labels: torch.Tensor,
                test_features: torch.Tensor,
                k: int = 20,
                temperature: Optional[float] = 0.07,
                num_classes: Optional[int] = None,
                batch_size: int = 1024) -> torch.Tensor:
    """Predicted class of every query: the one with the largest vote.

    Ties (possible with the majority vote) go to the smallest class id.
    Arguments as :func:`knn_class_scores`.

    Returns:
        torch.Tensor: ``M`` int64 predicted class ids.
    """
    return knn_class_scores(train_features, train_labels, test_features, k,
                            temperature, num_classes, batch_size).argmax(1)


def knn_accuracy(train_features: torch.Tensor,
                 train_labels: torch.Tensor,
                 test_features: torch.Tensor,
                 test_labels: torch.Tensor,
                 k: int = 20,
                 temperature: Optional[float] = 0.07,
                 topk: Sequence[int] = (1, ),
                 batch_size: int = 1024) -> Tuple[float, ...]:
    """Top-``n`` accuracies of the kNN classifier on labelled queries.

    Args:
        train_features (torch.Tensor): ``N x d`` training features.
        train_labels (torch.Tensor): ``N`` class ids.
        test_features (torch.Tensor): ``M x d`` query features.
        test_labels (torch.Tensor): ``M`` class ids of the queries.
        k (int): Number of neighbours. Defaults to 20.
        temperature (float, optional): See :func:`knn_class_scores`.
        topk (Sequence[int]): Which top-``n`` accuracies. Defaults to (1,).
        batch_size (int): Test rows per similarity block.

    Returns:
        tuple[float, ...]: One accuracy in ``[0, 1]`` per entry of ``topk``.
    """
    train_labels = torch.as_tensor(train_labels, dtype=torch.long)
    test_labels = torch.as_tensor(test_labels, dtype=torch.long)
    if test_labels.shape != (test_features.shape[0], ):
        raise ValueError(
            f'kNN: {test_features.shape[0]} test features but labels of '
            f'shape {tuple(test_labels.shape)}.')
    num_classes = int(torch.cat([train_labels, test_labels]).max()) + 1
    scores = knn_class_scores(train_features, train_labels, test_features, k,
                              temperature, num_classes, batch_size)
    # A stable descending sort keeps ties in class order, as argmax does.
    ranked = scores.argsort(dim=1, descending=True, stable=True)
    hits = ranked == test_labels.to(ranked.device).unsqueeze(1)
    return tuple(float(hits[:, :n].any(dim=1).float().mean()) for n in topk)
