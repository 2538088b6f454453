"""CentroidClsHead: the memory's centroids as ODC's cosine classifier."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from mmodc.models.heads import CentroidClsHead
from mmodc.registry import MODELS


def test_scores_are_cosine_similarities_over_the_temperature():
    torch.manual_seed(0)
    head = CentroidClsHead(in_channels=8, num_classes=5, temperature=0.2)
    centroids = torch.randn(5, 8) * 3
    head.set_centroids(centroids)
    feats = torch.randn(4, 8)
    expected = F.cosine_similarity(
        feats[:, None], centroids[None], dim=2) / 0.2
    torch.testing.assert_close(head(feats), expected)
    labels = torch.tensor([0, 1, 2, 3])
    torch.testing.assert_close(head.loss(feats, labels),
                               F.cross_entropy(expected, labels))


def test_wrong_shapes_and_temperature_are_refused():
    head = CentroidClsHead(in_channels=8, num_classes=5)
    with pytest.raises(ValueError, match=r'centroids of shape \(6, 8\) but '
                       r'the head expects \(5, 8\)'):
        head.set_centroids(torch.zeros(6, 8))
    with pytest.raises(ValueError, match='temperature=0 must be positive'):
        CentroidClsHead(in_channels=8, num_classes=5, temperature=0)


def _odc_with_centroid_head(num_samples: int = 40, num_clusters: int = 4):
    init_default_scope('mmodc')
    model = MODELS.build(
        dict(type='ODC',
             backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=1,
                           stem_channels=8, base_channels=8,
                           out_indices=[3]),
             neck=dict(type='ODCNeck', in_channels=64, hid_channels=32,
                       out_channels=16, dropout=0., final_relu=False),
             head=dict(type='CentroidClsHead', in_channels=16,
                       num_classes=num_clusters),
             memory_bank=dict(type='ODCMemory', length=num_samples,
                              feat_dim=16, num_classes=num_clusters,
                              min_cluster=2)))
    torch.manual_seed(0)
    model.memory_bank.init_memory(
        F.normalize(torch.randn(num_samples, 16), dim=1),
        torch.arange(num_samples) % num_clusters)
    return model


def test_odc_trains_against_the_memory_centroids():
    """The loss is the cross entropy of the embeddings' cosine scores
    against the centroids the memory had before this batch (copied into
    the head, which a checkpoint then holds), and it reaches the
    backbone; the neck's embedding is signed without the final ReLU."""
    model = _odc_with_centroid_head()
    model.train()
    centroids = model.memory_bank.centroids.clone()
    labels = model.memory_bank.label_bank[:8].clone()
    inputs = torch.randn(8, 1, 28, 28)
    samples = [DataSample(metainfo=dict(sample_idx=i)) for i in range(8)]
    torch.manual_seed(1)
    loss = model.loss(inputs, samples)['loss']
    torch.testing.assert_close(model.head.prototypes, centroids)
    assert 'head.prototypes' in model.state_dict()
    torch.manual_seed(1)
    embedding = model.extract_feat(inputs)
    assert (embedding < 0).any()
    scores = F.normalize(embedding, dim=1) @ F.normalize(
        centroids, dim=1).T / model.head.temperature
    torch.testing.assert_close(loss, F.cross_entropy(scores, labels))
    loss.backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
