"""ODC through the real MMEngine Runner on a Fashion-MNIST subset."""
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import REPO, shrink_config
from mmengine.config import Config
from mmengine.runner import Runner
from sklearn.metrics import normalized_mutual_info_score

import mmodc  # noqa: F401


def train(cfg: Config) -> Runner:
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_quickstart_config_trains(quickstart_cfg, tmp_path):
    cfg = shrink_config(
        quickstart_cfg, num_images=300, num_clusters=10, batch_size=50,
        work_dir=str(tmp_path))
    cfg.train_cfg.max_epochs = 1
    # whitening the quickstart's 64 principal components of 300 untrained
    # embeddings amplifies noise directions; 16 suit this sample
    cfg.custom_hooks[0].clustering.pca_dim = 16
    runner = train(cfg)
    memory = runner.model.memory_bank
    assert bool(memory.initialized)
    assert runner.iter == 6
    counts = torch.bincount(memory.label_bank, minlength=10)
    assert counts.sum() == 300 and counts.min() >= 5
    assert torch.equal(counts, memory.cluster_counts)
    expected = counts.double().pow(-0.5)  # reweight_pow=0.5
    torch.testing.assert_close(memory.class_weights.double(),
                               expected / expected.sum())
    norms = memory.feature_bank.norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)
    assert osp.isfile(osp.join(tmp_path, 'epoch_1.pth'))
    initial = np.load(osp.join(tmp_path, 'cluster_epoch_0.npy'))
    assert initial.shape == (300, )
    # the initial clustering of the untrained network's features already
    # follows the classes a little
    gt = runner.train_dataloader.dataset.get_gt_labels()
    assert normalized_mutual_info_score(gt, initial) > 0.2
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 6 and np.isfinite(losses).all()
    ratios = runner.message_hub.get_scalar('train/change_ratio').data[0]
    assert ((0 <= ratios) & (ratios <= 1)).all()


@pytest.fixture
def small_cfg(quickstart_cfg, tmp_path) -> Config:
    """The quickstart on 200 images, 10 clusters, batches of 50."""
    return shrink_config(
        quickstart_cfg, num_images=200, num_clusters=10, batch_size=50,
        work_dir=str(tmp_path))


def test_memory_length_must_match_dataset(small_cfg):
    cfg = small_cfg
    cfg.model.memory_bank.length = 250
    with pytest.raises(ValueError, match='memory_bank.length=250 differs '
                       r'from the length of the training set \(200\)'):
        train(cfg)


def test_head_and_memory_must_agree(small_cfg):
    cfg = small_cfg
    cfg.model.head.num_classes = 12
    with pytest.raises(ValueError, match='head.num_classes=12 differs from '
                       'model.memory_bank.num_classes=10'):
        Runner.from_cfg(cfg)


def test_too_many_clusters_is_refused(small_cfg):
    cfg = small_cfg
    cfg.model.memory_bank.num_classes = 201
    cfg.model.head.num_classes = 201
    with pytest.raises(ValueError, match='num_classes=201 is larger than '
                       'the number of samples length=200'):
        Runner.from_cfg(cfg)


def test_divergence_names_the_iteration(small_cfg):
    cfg = small_cfg
    cfg.optim_wrapper.optimizer.lr = 1e30
    cfg.train_cfg.max_epochs = 3
    with pytest.raises(FloatingPointError,
                       match=r'at iteration [2-9]\d*; the'):
        train(cfg)


def test_reweight_off_and_power_are_honoured(small_cfg):
    odc_hook = next(h for h in small_cfg.custom_hooks if h.type == 'ODCHook')
    odc_hook.reweight = False
    small_cfg.train_cfg.max_epochs = 1
    weights = train(small_cfg).model.memory_bank.class_weights
    torch.testing.assert_close(weights, torch.full_like(weights, 0.1))

    odc_hook.update(reweight=True, reweight_pow=1.0)
    memory = train(small_cfg).model.memory_bank
    expected = 1 / memory.cluster_counts.double()
    torch.testing.assert_close(memory.class_weights.double(),
                               expected / expected.sum())


def test_a_recluster_pca_dim_without_an_interval_is_an_error():
    from mmodc.engine.hooks.odc_hook import ODCHook
    with pytest.raises(ValueError, match='recluster_pca_dim=64 does nothing '
                       'without recluster_interval'):
        ODCHook(recluster_pca_dim=64)
    assert ODCHook(recluster_interval=2,
                   recluster_pca_dim=64).recluster_pca_dim == 64


def test_the_quickstart_refills_the_memory_each_epoch(small_cfg,
                                                     monkeypatch):
    """The quickstart config (``DeepClusterHook(interval=1)``, k-means on
    the whitened PCA-64) clusters before training and re-fills the memory
    from a fresh extraction after every epoch but the last (epochs trained
    0, 1 of 2); the memory itself is not re-clustered, and the run goes on
    with consistent statistics."""
    from mmodc.engine.hooks import DeepClusterHook
    from mmodc.models.memories.odc_memory import ODCMemory
    small_cfg.train_cfg.max_epochs = 2
    calls, deepcluster = [], DeepClusterHook.deepcluster

    def recording(hook, runner, epochs_trained):
        calls.append((epochs_trained, hook.pca_dim, hook.match_labels))
        return deepcluster(hook, runner, epochs_trained)

    def refused(*args, **kwargs):
        raise AssertionError('the quickstart re-clustered its memory')

    monkeypatch.setattr(DeepClusterHook, 'deepcluster', recording)
    monkeypatch.setattr(ODCMemory, 'recluster', refused)
    memory = train(small_cfg).model.memory_bank
    assert calls == [(0, 64, True), (1, 64, True)]
    torch.testing.assert_close(
        memory.cluster_counts,
        torch.bincount(memory.label_bank, minlength=memory.num_classes))


@pytest.mark.parametrize('config', [
    'odc/odc_resnet18-w16_1xb256-steplr-40e_fashionmnist.py',
    'codc/codc-3models-independent_resnet18-w16_1xb256-steplr-8e_'
    'fashionmnist.py'
])
def test_configs_measured_without_refilling_keep_the_reference_hooks(
        quickstart_cfg, config):
    """The 40-epoch and CODC Fashion-MNIST configs, whose results were
    measured before the quickstart re-filled its memory every epoch, keep
    the reference's hooks: the quickstart's, with one clustering before
    training, on the embeddings as they are."""
    hooks = Config.fromfile(osp.join(REPO, 'configs', 'selfsup',
                                     config)).custom_hooks
    assert hooks == quickstart_cfg.reference_hooks
    differing = [(mine, theirs) for mine, theirs in
                 zip(quickstart_cfg.custom_hooks, hooks) if mine != theirs]
    assert [theirs.type for _, theirs in differing] == ['DeepClusterHook']
    (mine, theirs), = differing
    assert theirs.interval > 10**6 and theirs.clustering.pca_dim == -1
    assert mine == dict(theirs, interval=1,
                        clustering=dict(theirs.clustering, pca_dim=64))


@pytest.mark.parametrize('memory_type', ['ODCMemory', 'ShardedODCMemory'])
def test_initial_clustering_on_whitened_pca_keeps_the_embeddings(
        small_cfg, memory_type):
    """``clustering.pca_dim > 0`` with ``init_memory``: k-means runs on the
    whitened PCA of the embeddings, as DeepCluster clusters; the memory
    holds the unit-norm embeddings themselves (its feat_dim)."""
    from mmodc.clustering import kmeans, preprocess_features
    from mmodc.engine.extractor import extract_features
    cluster_hook = small_cfg.custom_hooks[0]
    cluster_hook.clustering.pca_dim = 4
    small_cfg.model.memory_bank.type = memory_type
    runner = Runner.from_cfg(small_cfg)
    runner.call_hook('before_train')
    memory = runner.model.memory_bank
    embeddings = extract_features(
        runner.model, runner.build_dataloader(cluster_hook.extract_dataloader))
    torch.testing.assert_close(memory.feature_bank,
                               preprocess_features(embeddings))
    # the sharded memory's PCA and k-means train on a sample, which in one
    # process holds every row: the same labels
    expected, _ = kmeans(preprocess_features(embeddings, 4), 10,
                         seed=runner.seed)
    assert torch.equal(memory.label_bank, expected)
    plain, _ = kmeans(preprocess_features(embeddings), 10, seed=runner.seed)
    assert not torch.equal(memory.label_bank, plain)


@pytest.mark.parametrize('memory_type', ['ODCMemory', 'ShardedODCMemory'])
@pytest.mark.parametrize('match_labels', [True, False])
def test_a_refill_matches_the_new_clusters_to_the_memory_labels(
        small_cfg, memory_type, match_labels):
    """A later ``DeepClusterHook`` clustering (``interval``) re-fills the
    memory from a fresh extraction; with ``match_labels`` its k-means ids
    are renumbered after the memory's labels (the Hungarian matching), so
    the head's classes keep their meaning; without, k-means' own ids."""
    from mmodc.clustering import (
        contingency_table,
        kmeans,
        preprocess_features,
        renumbering,
    )
    from mmodc.engine.extractor import extract_features
    cluster_hook = small_cfg.custom_hooks[0]
    cluster_hook.clustering.pca_dim = 4
    cluster_hook.match_labels = match_labels
    small_cfg.model.memory_bank.type = memory_type
    runner = Runner.from_cfg(small_cfg)
    runner.call_hook('before_train')
    memory = runner.model.memory_bank
    old = memory.label_bank.clone()
    hook = next(hook for hook in runner.hooks
                if type(hook).__name__ == 'DeepClusterHook')
    hook.deepcluster(runner, 1)
    embeddings = extract_features(
        runner.model, runner.build_dataloader(cluster_hook.extract_dataloader))
    fresh, _ = kmeans(preprocess_features(embeddings, 4), 10,
                      seed=runner.seed + 1)
    matched = renumbering(contingency_table(old, fresh, 10))[fresh]
    assert (matched == old).sum() > (fresh == old).sum()
    assert torch.equal(memory.label_bank, matched if match_labels else fresh)
    changed = float((memory.label_bank != old).float().mean())
    log = open(osp.join(runner.log_dir, f'{runner.timestamp}.log')).read()
    assert (f'the re-fill of the memory changes {changed:.1%} of its labels'
            in log) == match_labels
    torch.testing.assert_close(memory.feature_bank,
                               preprocess_features(embeddings))
    torch.testing.assert_close(
        memory.cluster_counts,
        torch.bincount(memory.label_bank, minlength=10))
