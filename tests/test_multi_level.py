"""MultiLevelResNet(_CIFAR), MultiPooling, MultiLevelClsHead and
MultiHeadAccuracy: the pieces of the multi-head linear evaluation."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

import mmodc  # noqa: F401
from mmodc.registry import METRICS, MODELS

init_default_scope('mmodc')


pytestmark = pytest.mark.usefixtures('single_thread')


def evaluated(cfg: dict) -> torch.nn.Module:
    """The model of ``cfg`` in eval mode (ResNet.train returns None)."""
    model = MODELS.build(cfg)
    model.eval()
    return model


def stage_input(model: torch.nn.Module, module: torch.nn.Module,
                images: torch.Tensor) -> torch.Tensor:
    """What ``module`` of ``model`` receives when ``model`` runs."""
    seen = []
    handle = module.register_forward_hook(
        lambda _, inputs, output: seen.append(inputs[0].clone()))
    with torch.no_grad():
        model(images)
    handle.remove()
    return seen[0]


@pytest.mark.parametrize('kind, extra, first_after_stem', [
    ('ResNet', dict(), 'maxpool'),
    ('ResNet', dict(deep_stem=True), 'maxpool'),
    ('ResNet_CIFAR', dict(in_channels=1), 'layer1'),
])
def test_levels_are_resnet_stem_and_stages(kind, extra, first_after_stem):
    reference = evaluated(
        dict(type=kind, depth=18, out_indices=(0, 1, 2, 3), **extra))
    multi = evaluated(dict(type=f'MultiLevel{kind}', depth=18, **extra))
    # the same modules and keys: mmpretrain's weights load as they are
    multi.load_state_dict(reference.state_dict(), strict=True)
    images = torch.randn(2, extra.get('in_channels', 3), 32, 32)
    with torch.no_grad():
        levels = multi(images)
        stages = reference(images)
    assert len(levels) == 5
    stem = stage_input(reference, getattr(reference, first_after_stem),
                       images)
    torch.testing.assert_close(levels[0], stem, rtol=0, atol=0)
    for level, stage in zip(levels[1:], stages):
        torch.testing.assert_close(level, stage, rtol=0, atol=0)


def test_cifar_stem_keeps_the_resolution():
    multi = evaluated(
        dict(type='MultiLevelResNet_CIFAR', depth=18, in_channels=1,
             out_indices=[0, 4]))
    stem, last = multi(torch.randn(1, 1, 28, 28))
    assert stem.shape == (1, 64, 28, 28)  # no max-pool
    assert last.shape == (1, 512, 4, 4)


def test_resnet50_at_224_gives_the_reference_dims():
    backbone = evaluated(dict(type='MultiLevelResNet', depth=50))
    neck = MODELS.build(dict(type='MultiPooling'))
    with torch.no_grad():
        levels = backbone(torch.randn(1, 3, 224, 224))
        pooled = neck(levels)
    assert levels[0].shape == (1, 64, 112, 112)  # stem, before the max-pool
    assert [tuple(x.shape[1:]) for x in pooled] == [
        (64, 12, 12), (256, 6, 6), (512, 4, 4), (1024, 3, 3), (2048, 2, 2)
    ]
    assert [x[0].numel() for x in pooled] == [9216, 9216, 8192, 9216, 8192]


def test_selected_levels_and_adaptive_pooling():
    backbone = evaluated(
        dict(type='MultiLevelResNet', depth=18, out_indices=[2, 0]))
    neck = MODELS.build(
        dict(type='MultiPooling', levels=[1, 3],
             pools=[dict(output_size=3), dict(output_size=1)]))
    with torch.no_grad():
        pooled = neck(backbone(torch.randn(1, 3, 64, 64)))
    assert [tuple(x.shape) for x in pooled] == [(1, 64, 3, 3), (1, 128, 1, 1)]


@pytest.mark.parametrize('out_indices', [[], [5], [-1], [1, 1], 3, ['0']])
def test_bad_out_indices_are_named(out_indices):
    with pytest.raises(ValueError, match=r'out_indices=.* is invalid.*0, 1, '
                       r'2, 3, 4'):
        MODELS.build(dict(type='MultiLevelResNet', depth=18,
                          out_indices=out_indices))


@pytest.mark.parametrize('cfg, error, message', [
    (dict(pools='vgg16'), KeyError, "unknown pools preset 'vgg16'"),
    (dict(levels=[1, 2], pools=[dict(output_size=2)]), ValueError,
     '1 pools for 2 levels'),
    (dict(levels=[0, 1]), ValueError, r'levels=\[0, 1\] is invalid'),
])
def test_bad_pooling_is_named(cfg, error, message):
    with pytest.raises(error, match=message):
        MODELS.build(dict(type='MultiPooling', **cfg))


def test_pooling_refuses_a_wrong_number_of_levels():
    neck = MODELS.build(dict(type='MultiPooling', levels=[4, 5]))
    with pytest.raises(ValueError, match='got 1 backbone outputs'):
        neck((torch.randn(1, 2048, 7, 7), ))


def test_frozen_stages_freeze_the_stem_too():
    backbone = MODELS.build(
        dict(type='MultiLevelResNet', depth=18, frozen_stages=4,
             norm_eval=True))
    backbone.train()
    assert not any(p.requires_grad for p in backbone.parameters())
    assert not backbone.norm1.training and not backbone.layer4.training


def small_head(**kwargs) -> torch.nn.Module:
    """A head over two pooled levels of 4 and 8 channels, 2x2 each."""
    cfg = dict(type='MultiLevelClsHead', num_classes=6, in_channels=[4, 8],
               feat_dims=[16, 32], levels=[1, 5])
    head = MODELS.build({**cfg, **kwargs})
    head.init_weights()
    return head


def test_head_layers_match_the_reference():
    head = small_head()
    assert [type(norm).__name__ for norm in head.norms] == ['BatchNorm2d'] * 2
    assert all(not norm.affine and norm.momentum == 0.1
               for norm in head.norms)
    fc = head.fcs[1]
    assert (fc.in_features, fc.out_features) == (32, 6)
    assert torch.count_nonzero(fc.bias) == 0
    assert 0.005 < float(fc.weight.detach().std()) < 0.015  # Normal 0.01


def test_head_losses_accuracies_and_predictions():
    torch.manual_seed(0)
    head = small_head()
    feats = (torch.randn(4, 4, 2, 2), torch.randn(4, 8, 2, 2))
    samples = [DataSample().set_gt_label(label) for label in (0, 1, 2, 3)]
    losses = head.loss(feats, samples)
    assert set(losses) == {'loss_feature1', 'accuracy_feature1',
                           'loss_feature5', 'accuracy_feature5'}
    assert losses['loss_feature5'].requires_grad
    assert not losses['accuracy_feature5'].requires_grad
    # the training accuracy is top-1 of the logits, whatever their sign
    head.fcs[1].weight.data.zero_()
    logits = torch.tensor([-5., -6, -7, -8, -9, -9])
    head.fcs[1].bias.data.copy_(logits)
    losses = head.loss(feats, samples)
    assert float(losses['accuracy_feature5']) == 25.
    # each level's own cross entropy (feature5's logits are the bias)
    torch.testing.assert_close(
        losses['loss_feature5'],
        F.cross_entropy(logits.expand(4, 6), torch.arange(4)))
    head.eval()
    predictions = head.predict(feats)
    assert set(predictions[0].pred_scores) == {'feature1', 'feature5'}
    assert torch.allclose(predictions[0].pred_scores['feature5'].sum(),
                          torch.tensor(1.))
    # every level's scores under its own name, the last level's as pred_score
    with torch.no_grad():
        feature1 = F.softmax(head(feats)[0], dim=1)
    for index, prediction in enumerate(predictions):
        torch.testing.assert_close(prediction.pred_scores['feature1'],
                                   feature1[index])
        torch.testing.assert_close(prediction.pred_scores['feature5'],
                                   F.softmax(logits, dim=0))
        torch.testing.assert_close(prediction.pred_score,
                                   prediction.pred_scores['feature5'])
    assert int(predictions[3].pred_label) == 0  # the last level's argmax


def test_head_names_a_wrong_feature_size():
    head = small_head()
    with pytest.raises(ValueError, match='feature5 has 72 features after '
                       'pooling but feat_dims gives 32'):
        head((torch.randn(2, 4, 2, 2), torch.randn(2, 8, 3, 3)))


def one_hot_scores(labels: list, num_classes: int) -> torch.Tensor:
    """Scores that rank ``labels`` first and the next class second."""
    labels = torch.tensor(labels)
    rows = torch.arange(len(labels))
    scores = torch.zeros(len(labels), num_classes)
    scores[rows, labels] = 1.
    scores[rows, (labels + 1) % num_classes] = 0.5
    return scores


def test_multi_head_accuracy_per_head():
    metric = METRICS.build(dict(type='MultiHeadAccuracy', topk=(1, 2, 5)))
    truth = [0, 1, 2, 3]
    right = one_hot_scores(truth, 6)
    second = one_hot_scores([5, 0, 1, 0], 6)  # 3 of 4 right in second place
    samples = [
        dict(gt_label=torch.tensor([label]),
             pred_scores=dict(feature1=right[i], feature2=second[i]))
        for i, label in enumerate(truth)
    ]
    metric.process(None, samples)
    results = metric.evaluate(len(samples))
    assert results == {
        'feature1/top1': 100., 'feature1/top2': 100., 'feature1/top5': 100.,
        'feature2/top1': 0., 'feature2/top2': 75., 'feature2/top5': 100.,
    }


def test_multi_head_accuracy_skips_topk_beyond_the_classes():
    metric = METRICS.build(dict(type='MultiHeadAccuracy'))
    metric.process(None, [
        dict(gt_label=torch.tensor([1]),
             pred_scores=dict(feature3=torch.tensor([.2, .5, .3])))
    ])
    assert metric.evaluate(1) == {'feature3/top1': 100.}


def test_multi_head_accuracy_names_missing_scores():
    metric = METRICS.build(dict(type='MultiHeadAccuracy'))
    with pytest.raises(KeyError, match='needs pred_scores'):
        metric.process(None, [dict(gt_label=torch.tensor([0]),
                                   pred_score=torch.tensor([1.]))])
