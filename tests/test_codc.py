"""Collaborative ODC: each network learns the other's memory labels and
each memory holds its own network's embeddings; the Fashion-MNIST config
trains both networks with a real Runner, the hooks filling, updating and
monitoring both memories; the 3-model mixup member; configuration errors
name the fields to fix."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import REPO, shrink_config
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmpretrain.structures import DataSample

import mmodc  # noqa: F401
from mmodc.models.algorithms.rotation_pred import rotate_batch
from mmodc.models.losses import weighted_cross_entropy
from mmodc.registry import MODELS

CODC_CONFIGS = osp.join(REPO, 'configs', 'selfsup', 'codc')
FMNIST_NAME = 'resnet18-w16_1xb256-steplr-8e_fashionmnist.py'
CODC_FMNIST = osp.join(CODC_CONFIGS, f'codc_{FMNIST_NAME}')
NUM_IMAGES, NUM_CLUSTERS = 64, 4


def fmnist_cfg(prefix: str) -> Config:
    """A Fashion-MNIST CODC config on 64 images and 4 clusters."""
    return shrink_config(
        Config.fromfile(osp.join(CODC_CONFIGS, f'{prefix}_{FMNIST_NAME}')),
        NUM_IMAGES, NUM_CLUSTERS, 16, 'unused')


@pytest.fixture(scope='module')
def codc_cfg(quickstart_cfg) -> Config:
    """The Fashion-MNIST CODC config on 64 images and 4 clusters."""
    return fmnist_cfg('codc')


@pytest.mark.parametrize('prefix, heads', [
    ('codc', dict(clustering={'clustering', 'rotation'},
                  rotation={'clustering'})),
    ('codc-independent', dict(clustering={'clustering'}, rotation=set())),
    ('codc-3models', dict(clustering={'clustering', 'rotation',
                                      'classification'},
                          rotation={'clustering', 'classification'},
                          classification={'rotation'})),
    ('codc-3models-independent', dict(clustering={'clustering'},
                                      rotation=set(),
                                      classification=set())),
])
def test_fashion_mnist_configs_collaborate_or_not(prefix, heads):
    """Which memories each network's cluster heads learn: every other one
    with CODC (the mixup network's own task already learns the clustering
    labels), only ODC's own without; the tasks are the same in both."""
    model = build(fmnist_cfg(prefix).model)
    assert {name: set(member.heads) for name, member in
            model.members.items()} == heads
    tasks = dict(clustering=None, rotation='rotation',
                 classification='mixup')
    assert {name: member.task_type for name, member in
            model.members.items()} == {name: tasks[name] for name in heads}


def build(model_cfg: dict):
    with DefaultScope.overwrite_default_scope('mmodc'):
        return MODELS.build(copy.deepcopy(model_cfg))


def filled_model(model_cfg: dict, seed: int = 0):
    """A CODC model in eval mode (BatchNorm identical whatever the batch)
    whose memories hold random unit features and different labels."""
    torch.manual_seed(seed)
    model = build(model_cfg).eval()
    for offset, member in enumerate(model.members.values()):
        features = torch.nn.functional.normalize(
            torch.randn(NUM_IMAGES, member.memory_bank.feat_dim), dim=1)
        labels = (torch.arange(NUM_IMAGES) + offset) % NUM_CLUSTERS
        member.memory_bank.init_memory(features, labels)
        member.memory_bank.update_class_weights(0.5)
    return model


def a_batch(count: int = 8):
    images = torch.randn(count, 1, 28, 28)
    idx = torch.arange(3, 3 + count)
    samples = [DataSample(metainfo=dict(sample_idx=int(i))) for i in idx]
    return images, samples, idx


def test_each_network_learns_the_other_memory_and_feeds_its_own(codc_cfg):
    model = filled_model(codc_cfg.model)
    before = copy.deepcopy(model)
    images, samples, idx = a_batch()
    losses = model.loss(images, samples)

    clustering, rotation = before.members['clustering'], \
        before.members['rotation']
    labels = {name: member.memory_bank.label_bank[idx]
              for name, member in before.members.items()}
    weights = {name: member.memory_bank.class_weights
               for name, member in before.members.items()}
    with torch.no_grad():
        embedding = {name: member.extract_feat(images)
                     for name, member in before.members.items()}
        expected = {
            'clustering.loss_clustering': (clustering, 'clustering'),
            'clustering.loss_rotation': (clustering, 'rotation'),
            'rotation.loss_clustering': (rotation, 'clustering'),
        }
        for key, (member, memory) in expected.items():
            scores = member.heads[memory](embedding[member.name])
            torch.testing.assert_close(
                losses[key],
                weighted_cross_entropy(scores, labels[memory],
                                       weights[memory]))
    # the two memories' labels differ, so the heads were told apart
    assert not torch.equal(labels['clustering'], labels['rotation'])
    with torch.no_grad():
        rotated, rotations = rotate_batch(images)
        scores = rotation.task_head(rotation.task_neck(
            rotation.backbone(rotated))[-1])
    torch.testing.assert_close(
        losses['rotation.loss_rotation'],
        weighted_cross_entropy(scores, rotations))
    assert float(losses['rotation.rotation_accuracy']) == float(
        (scores.argmax(dim=1) == rotations).float().mean())
    assert set(losses) >= {'rotation.loss_rotation', 'change_ratio'}
    with pytest.raises(RuntimeError, match='no single prediction'):
        model(images, samples, mode='predict')
    # each memory took its own network's embedding of the batch
    for name, member in model.members.items():
        reference = copy.deepcopy(before.members[name].memory_bank)
        reference.update_samples_memory(idx, embedding[name])
        torch.testing.assert_close(member.memory_bank.feature_bank,
                                   reference.feature_bank)
        assert torch.equal(member.memory_bank.label_bank,
                           reference.label_bank)


def test_the_mixup_member_scores_mixed_images_against_both_labels():
    """The 3-model Fashion-MNIST config's classification network."""
    model = filled_model(fmnist_cfg('codc-3models').model)
    member = copy.deepcopy(model.members['classification'])
    images, samples, idx = a_batch()
    labels = model.members['clustering'].memory_bank.label_bank[idx]
    weights = model.members['clustering'].memory_bank.class_weights.clone()
    torch.manual_seed(7)
    losses = model.loss(images, samples)
    # the same draws: lambda, then the pairing
    torch.manual_seed(7)
    lam = torch.distributions.Beta(1.0, 1.0).sample().item()
    order = torch.randperm(len(idx))
    with torch.no_grad():
        mixed = lam * images + (1 - lam) * images[order]
        scores = member.task_head(member.task_neck(member.backbone(mixed))[-1])
        expected = lam * weighted_cross_entropy(scores, labels, weights) + (
            1 - lam) * weighted_cross_entropy(scores, labels[order], weights)
    assert 0 < lam < 1
    torch.testing.assert_close(losses['classification.loss_mixup'], expected)
    assert 'classification.loss_rotation' in losses


@pytest.mark.parametrize('change, error, message', [
    # the configs share one memory_bank dict between the members: replace
    (lambda m: m.members.rotation.__setitem__('memory_bank', dict(
        m.members.rotation.memory_bank, length=NUM_IMAGES + 1)),
     ValueError, r'model.members.clustering.memory_bank.length=64, '
     r'model.members.rotation.memory_bank.length=65'),
    (lambda m: m.members.rotation.heads.update(colour=dict(
        type='ClusterClsHead', in_channels=128, num_classes=NUM_CLUSTERS)),
     KeyError, r'model.members.rotation.heads.colour names memory'),
    (lambda m: m.members.rotation.heads.clustering.update(num_classes=5),
     ValueError, r'heads.clustering has num_classes=5 but memory '
     r"'clustering' has 4 clusters"),
    (lambda m: m.members.rotation.task.update(type='jigsaw'), ValueError,
     r"task type 'jigsaw'"),
    (lambda m: m.members.rotation.task.head.update(num_classes=3),
     ValueError, r'rotation prediction has 4 classes'),
    (lambda m: m.members.__setitem__('rotation', dict(
        m.members.rotation, heads={}, task=None)), ValueError,
     r"member 'rotation' has no heads and no task"),
    (lambda m: m.__setitem__('members', {}), ValueError,
     r'model.members is empty'),
])
def test_configuration_errors_name_the_field(codc_cfg, change, error,
                                             message):
    model_cfg = copy.deepcopy(codc_cfg.model)
    change(model_cfg)
    with pytest.raises(error, match=message):
        build(model_cfg)


def test_the_fashion_mnist_config_trains_both_networks(codc_cfg, tmp_path):
    cfg = copy.deepcopy(codc_cfg)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.max_epochs = 1
    cfg.randomness = dict(seed=0)
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()

    # both memories clustered at the start, with their own embeddings
    initial = {name: np.load(tmp_path / f'cluster_epoch_0_{name}.npy')
               for name in ('clustering', 'rotation')}
    assert all(labels.shape == (NUM_IMAGES, ) for labels in initial.values())
    assert not np.array_equal(initial['clustering'], initial['rotation'])
    hub = runner.message_hub
    for key in ('clustering.loss_clustering', 'clustering.loss_rotation',
                'rotation.loss_clustering', 'rotation.loss_rotation',
                'rotation.rotation_accuracy', 'clustering.change_ratio',
                'rotation.change_ratio'):
        assert len(hub.get_scalar(f'train/{key}').data[0]) == 4, key
    for key in ('clustering.backbone/knn_top1', 'rotation.backbone/nmi',
                'clustering/pseudo_label_nmi', 'rotation/pseudo_label_nmi'):
        assert hub.get_scalar(f'monitor/{key}').data[0].size == 2, key
    # ODCHook kept both memories: centroids of the current labels
    checkpoint = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)
    state = checkpoint['state_dict']
    for name in ('clustering', 'rotation'):
        prefix = f'members.{name}.memory_bank.'
        counts = torch.bincount(state[prefix + 'label_bank'],
                                minlength=NUM_CLUSTERS)
        assert torch.equal(counts, state[prefix + 'cluster_counts'])
        # the labels moved with the embeddings
        assert max(hub.get_scalar(f'train/{name}.change_ratio').data[0]) > 0


def test_benchmark_features_of_chosen_members(codc_cfg, capsys):
    """The kNN tool's --models: each member's pooled backbone, several
    concatenated in the given order; an unknown member is a usage error
    that lists the members."""
    from test_knn_tool import KNN_FASHION_MNIST, load_tool

    from mmodc.engine.extractor import (
        members_backbone_forward,
        named_feature_forward,
    )
    model = filled_model(codc_cfg.model)
    images, samples, _ = a_batch()
    data = dict(inputs=images, data_samples=samples)
    with torch.no_grad():
        parts = [named_feature_forward(f'{name}.backbone')(model, data)
                 for name in ('rotation', 'clustering')]
        joined = members_backbone_forward(['rotation', 'clustering'])(
            model, data)
        own = model.members['rotation'].backbone(images)[-1].mean(dim=(2, 3))
    torch.testing.assert_close(parts[0], own)
    torch.testing.assert_close(joined, torch.cat(parts, dim=1))
    assert not torch.allclose(parts[0], parts[1])

    with pytest.raises(SystemExit) as stop:
        load_tool().main([
            CODC_FMNIST, '--no-checkpoint', '--dataset-config',
            KNN_FASHION_MNIST, '--num-train', '40', '--num-val', '20',
            '--k', '5', '--models', 'clustering,colour'
        ])
    assert stop.value.code == 2
    assert ("model member 'colour' does not exist: its members are "
            "['clustering', 'rotation']") in capsys.readouterr().err


def test_the_monitor_names_every_member_feature(codc_cfg):
    """FeatureMonitorHook on a CODC model: 'backbone' means every
    member's; a member that does not exist is an error naming the
    members."""
    from mmodc.engine.hooks import FeatureMonitorHook

    model = build(codc_cfg.model)
    monitor = FeatureMonitorHook({}, {}, features=('backbone',
                                                   'rotation.neck'))
    monitor._name_member_features(model)
    assert monitor.features == ('clustering.backbone', 'rotation.backbone',
                                'rotation.neck')
    wrong = FeatureMonitorHook({}, {}, features=('colour.backbone', ))
    with pytest.raises(KeyError, match=r"model member 'colour' does not "
                       r"exist: its members are \['clustering', 'rotation'\]"):
        wrong._name_member_features(model)


def test_member_sets_are_scored_alone_and_concatenated():
    """codc_table's scores: a member whose features are the classes scores
    perfectly, random features do not, and a concatenated row joins the
    members' L2-normalised features."""
    from mmodc.analysis.member_scores import score_member_sets

    generator = torch.Generator().manual_seed(0)
    labels = {'train': np.repeat(np.arange(4), 50),
              'test': np.repeat(np.arange(4), 10)}
    features = {
        'exact': {split: torch.eye(4)[torch.as_tensor(classes)] * 5
                  for split, classes in labels.items()},
        'noise': {split: torch.randn(len(classes), 6, generator=generator)
                  for split, classes in labels.items()},
    }
    rows = score_member_sets(features, labels,
                             [['exact'], ['noise'], ['exact', 'noise']],
                             kmeans_seeds=(0, ))
    assert [row['features'] for row in rows] == [
        'exact', 'noise', 'exact+noise']
    assert [row['dim'] for row in rows] == [4, 6, 10]
    assert rows[0]['nmi'] > 0.8 and rows[0]['knn_top1'] == 1
    assert rows[1]['nmi'] < 0.2 and rows[1]['knn_top1'] < 0.6
    # the class part, normalised, still dominates the joined features
    assert rows[2]['knn_top1'] > rows[1]['knn_top1']
