"""ClusteringMetric through MMEngine's Evaluator."""
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.structures import DataSample

import mmodc  # noqa: F401
from mmodc.evaluation import ClusteringMetric


def samples(clusters, classes):
    return [
        DataSample().set_pred_label(cluster).set_gt_label(cls)
        for cluster, cls in zip(clusters, classes)
    ]


def test_permuted_clusters_score_perfectly_and_noise_does_not():
    evaluator = Evaluator(ClusteringMetric())
    evaluator.process(samples([2, 2, 0, 0, 1, 1], [0, 0, 1, 1, 2, 2]))
    perfect = evaluator.evaluate(6)
    assert perfect == pytest.approx({
        'clustering/nmi': 1.0, 'clustering/ari': 1.0,
        'clustering/acc': 1.0, 'clustering/purity': 1.0})
    evaluator.process(samples([0, 1, 0, 1, 0, 1], [0, 0, 1, 1, 2, 2]))
    mixed = evaluator.evaluate(6)
    # best matching: one of each class pair right -> 2 of 6
    assert mixed['clustering/acc'] == pytest.approx(2 / 6)
    assert mixed['clustering/nmi'] < 0.2


def test_missing_classes_are_reported():
    evaluator = Evaluator(ClusteringMetric())
    with pytest.raises(KeyError, match='needs gt_label'):
        evaluator.process([DataSample().set_pred_label(torch.tensor(0))])
