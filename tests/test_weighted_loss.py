"""The class-weighted mean cross entropy of ODC's head."""
import pytest
import torch
import torch.nn.functional as F

from mmodc.models.heads import ClusterClsHead
from mmodc.models.losses import weighted_cross_entropy


def test_equals_torch_weighted_cross_entropy():
    torch.manual_seed(0)
    logits, labels = torch.randn(32, 50), torch.randint(0, 50, (32, ))
    weights = torch.rand(50)
    torch.testing.assert_close(
        weighted_cross_entropy(logits, labels, weights),
        F.cross_entropy(logits, labels, weight=weights))
    torch.testing.assert_close(
        weighted_cross_entropy(logits, labels), F.cross_entropy(
            logits, labels))


def test_scale_does_not_depend_on_the_number_of_clusters():
    """Weights normalised to sum 1 over K clusters do not shrink the loss
    K times (the archived MMSelfSup 1.x mean of w_y * loss did)."""
    torch.manual_seed(0)
    for num_clusters in (10, 10000):
        logits = torch.zeros(64, num_clusters)
        labels = torch.randint(0, num_clusters, (64, ))
        uniform = torch.full((num_clusters, ), 1. / num_clusters)
        loss = weighted_cross_entropy(logits, labels, uniform)
        torch.testing.assert_close(
            loss, torch.log(torch.tensor(float(num_clusters))))


def test_head_loss_uses_the_class_weights():
    head = ClusterClsHead(in_channels=4, num_classes=3)
    head.init_weights()
    feats = torch.randn(6, 4)
    labels = torch.tensor([0, 0, 0, 0, 1, 2])
    only_rare = torch.tensor([0., 1., 1.])
    expected = F.cross_entropy(head(feats)[4:], labels[4:])
    torch.testing.assert_close(
        head.loss(feats, labels, only_rare), expected)


def _models_with_zero_head(num_clusters: int):
    """An ODC and a DeepCluster model with K clusters whose head outputs 0
    logits: their loss is log(K) whatever the class weights."""
    from mmengine.registry import init_default_scope

    from mmodc.registry import MODELS
    init_default_scope('mmodc')
    backbone = dict(type='ResNet_CIFAR', depth=18, in_channels=1,
                    stem_channels=8, base_channels=8, out_indices=[3])
    head = dict(type='ClusterClsHead', in_channels=64,
                num_classes=num_clusters)
    odc = MODELS.build(
        dict(type='ODC', backbone=backbone,
             neck=dict(type='ODCNeck', in_channels=64, hid_channels=32,
                       out_channels=64, with_avg_pool=True),
             head=head,
             memory_bank=dict(type='ODCMemory', length=num_clusters,
                              feat_dim=64, momentum=0.5,
                              num_classes=num_clusters, min_cluster=1)))
    deepcluster = MODELS.build(
        dict(type='DeepCluster', backbone=backbone,
             neck=dict(type='GlobalAveragePooling'), head=head))
    for model in (odc, deepcluster):
        torch.nn.init.zeros_(model.head.fc_cls.weight)
        torch.nn.init.zeros_(model.head.fc_cls.bias)
    return odc, deepcluster


def test_both_models_loss_scale_is_independent_of_k():
    """ODC and DeepCluster with normalised class weights (summing to 1 over
    K): the loss is the plain mean cross entropy, log(K) at zero logits."""
    from mmpretrain.structures import DataSample

    from mmodc.models.losses import cluster_class_weights
    for num_clusters in (10, 1000):
        odc, deepcluster = _models_with_zero_head(num_clusters)
        odc.eval(), deepcluster.eval()
        labels = torch.arange(num_clusters) % 7
        odc.memory_bank.init_memory(torch.randn(num_clusters, 64), labels)
        odc.memory_bank.update_class_weights(0.5)
        counts = torch.bincount(labels, minlength=num_clusters)
        deepcluster.class_weights.copy_(cluster_class_weights(counts, 0.5))
        for weights in (odc.memory_bank.class_weights,
                        deepcluster.class_weights):
            assert float(weights.sum()) == pytest.approx(1.)
        images = torch.randn(8, 1, 16, 16)
        samples = [
            DataSample(
                metainfo=dict(sample_idx=i), clustering_label=int(labels[i]))
            for i in range(8)
        ]
        expected = torch.log(torch.tensor(float(num_clusters)))
        for model in (odc, deepcluster):
            loss = model.loss(images, samples)['loss']
            torch.testing.assert_close(loss, expected, msg=type(model))
