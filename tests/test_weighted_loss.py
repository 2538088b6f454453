"""The class-weighted mean cross entropy of ODC's head."""
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
