"""Score the members of a CODC checkpoint alike: each member's pooled
backbone, and members' features concatenated.

Each member's features of the training and test images are extracted
once; a concatenated row joins them (each part L2-normalised first, so
that every member weighs the same). Scores: k-means (k = classes) NMI /
ACC of the training features (mean over seeds) and kNN top-1 of the test
images against the training images.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmodc.engine.extractor import (
    extract_features,
    member_of,
    named_feature_forward,
)
from mmodc.evaluation.feature_eval import evaluate_features
from .odc_report import build_odc_model, extract_dataloader_cfg


def member_features(cfg: Config, checkpoint: str, members: Sequence[str],
                    num_workers: Optional[int] = None
                    ) -> Tuple[Dict[str, Dict[str, torch.Tensor]],
                               Dict[str, np.ndarray]]:
    """Pooled backbone features of every member on the training and test
    split, and the splits' class labels.

    Args:
        cfg (Config): The CODC training config.
        checkpoint (str): Its checkpoint.
        members (Sequence[str]): Member names.
        num_workers (int, optional): Dataloader workers.

    Returns:
        tuple[dict, dict]: ``{member: {'train': N x d, 'test': M x d}}``
        and ``{'train': N labels, 'test': M labels}``.
    """
    model = build_odc_model(cfg, checkpoint)
    for name in members:
        member_of(model, name)
    loaders = {
        split: Runner.build_dataloader(
            extract_dataloader_cfg(cfg, split, num_workers))
        for split in ('train', 'test')
    }
    features = {
        name: {
            split: extract_features(
                model, loader, named_feature_forward(f'{name}.backbone'))
            for split, loader in loaders.items()
        }
        for name in members
    }
    labels = {
        split: np.asarray(loader.dataset.get_gt_labels(), np.int64)
        for split, loader in loaders.items()
    }
    return features, labels


def score_member_sets(features: Dict[str, Dict[str, torch.Tensor]],
                      labels: Dict[str, np.ndarray],
                      member_sets: Sequence[Sequence[str]],
                      kmeans_seeds: Sequence[int] = (0, 1, 2)
                      ) -> List[dict]:
    """k-means NMI / ACC and kNN top-1 of each set of members.

    Args:
        features (dict): :func:`member_features`' features.
        labels (dict): Its ``train`` and ``test`` class labels.
        member_sets (Sequence[Sequence[str]]): e.g. ``[['clustering'],
            ['clustering', 'rotation']]``.
        kmeans_seeds (Sequence[int]): Seeds of the k-means runs.

    Returns:
        list[dict]: One row per set: ``features`` (names joined by '+'),
        ``dim``, ``nmi``, ``nmi_std``, ``acc``, ``ari``, ``knn_top1``.
    """
    rows = []
    for names in member_sets:
        joined = {
            split: torch.cat([
                torch.nn.functional.normalize(features[name][split], dim=1)
                for name in names
            ], dim=1)
            for split in ('train', 'test')
        }
        scores = evaluate_features(
            joined['train'], labels['train'], joined['test'],
            labels['test'], int(labels['train'].max()) + 1, kmeans_seeds)
        rows.append(dict(features='+'.join(names), **scores))
    return rows
