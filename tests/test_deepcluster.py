"""DeepCluster end to end: per-epoch clustering, labels in the dataset,
uniform sampling, class weights, head re-initialisation, resume."""
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import FASHION_MNIST, REPO, shrink_config
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from torch.utils.data import DataLoader

import mmodc  # noqa: F401
from mmodc.datasets import DeepClusterDataset, FashionMNIST
from mmodc.engine.hooks import DeepClusterHook

DEEPCLUSTER_FMNIST = osp.join(
    REPO, 'configs', 'selfsup', 'deepcluster',
    'deepcluster_resnet18-w16_1xb256-steplr-8e_fashionmnist.py')


def tiny_cfg(tmp_path, name: str = 'work', epochs: int = 2) -> Config:
    cfg = shrink_config(
        Config.fromfile(DEEPCLUSTER_FMNIST), num_images=240, num_clusters=6,
        batch_size=40, work_dir=str(tmp_path / name))
    cfg.custom_hooks[0].clustering.pca_dim = 16
    cfg.train_cfg.max_epochs = epochs
    cfg.default_hooks.checkpoint.interval = 1
    cfg.log_level = 'WARNING'
    return cfg


def hook_of(runner) -> DeepClusterHook:
    return next(h for h in runner.hooks if isinstance(h, DeepClusterHook))


@pytest.fixture(scope='module')
def straight_run(tmp_path_factory):
    """3 epochs without interruption."""
    tmp_path = tmp_path_factory.mktemp('straight')
    runner = Runner.from_cfg(tiny_cfg(tmp_path, epochs=3))
    runner.train()
    return runner, tmp_path / 'work'


def test_training_clusters_every_epoch_but_the_last(straight_run):
    runner, work = straight_run
    saved = {n: np.load(work / f'cluster_epoch_{n}.npy') for n in (0, 1, 2)}
    # the last epoch is not followed by a clustering that nobody uses
    assert not (work / 'cluster_epoch_3.npy').exists()
    hook = hook_of(runner)
    assert len(hook.clustering_seconds) == 3
    # a new seed and new features each time: the assignments differ
    assert not np.array_equal(saved[0], saved[2])
    dataset = runner.train_dataloader.dataset
    assert isinstance(dataset, DeepClusterDataset)
    np.testing.assert_array_equal(dataset.labels.numpy(), saved[2])
    # uniform sampling over the clusters of the last assignment
    sampler = runner.train_dataloader.sampler
    np.testing.assert_array_equal(sampler.cluster_labels.numpy(), saved[2])
    # reweight=False: uniform weights over the non-empty clusters
    counts = np.bincount(saved[2], minlength=6)
    weights = runner.model.class_weights.numpy()
    np.testing.assert_allclose(weights[counts > 0], 1 / (counts > 0).sum())
    assert (weights[counts == 0] == 0).all()


def test_samples_carry_the_assigned_labels(tmp_path):
    cfg = tiny_cfg(tmp_path, epochs=1)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    dataset = runner.train_dataloader.dataset
    labels = dataset.labels
    for index in (0, 17, 239):
        sample = dataset[index]['data_samples']
        assert int(sample.clustering_label) == int(labels[index])


def test_persistent_workers_see_new_labels():
    """Labels assigned after the workers started reach them."""
    dataset = DeepClusterDataset(
        FashionMNIST(
            data_root=FASHION_MNIST,
            indices=64,
            pipeline=[
                dict(type='PackInputs', algorithm_keys=['clustering_label'])
            ]))
    loader = DataLoader(
        dataset,
        batch_size=16,
        num_workers=2,
        persistent_workers=True,
        collate_fn=lambda batch: [b['data_samples'] for b in batch])

    def seen_labels():
        return [int(s.clustering_label) for batch in loader for s in batch]

    assert seen_labels() == [-1] * 64
    new_labels = torch.arange(64) % 7
    dataset.assign_labels(new_labels)
    assert seen_labels() == new_labels.tolist()


def test_assign_labels_checks_its_input():
    dataset = DeepClusterDataset(
        FashionMNIST(data_root=FASHION_MNIST, indices=10))
    with pytest.raises(ValueError, match='9 labels for a dataset of 10'):
        dataset.assign_labels(torch.zeros(9, dtype=torch.long))
    with pytest.raises(ValueError, match='negative cluster labels'):
        dataset.assign_labels(torch.full((10, ), -1))


def test_head_reinit_is_seeded_and_clears_momentum(tmp_path):
    cfg = tiny_cfg(tmp_path, epochs=1)
    cfg.optim_wrapper.paramwise_cfg = None  # head with momentum
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2)
    runner = Runner.from_cfg(cfg)
    runner.train()
    head = runner.model.head
    optimizer = runner.optim_wrapper.optimizer
    assert head.fc_cls.weight in optimizer.state
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    DeepClusterHook._reinit_head(runner, head, seed=5)
    first = head.fc_cls.weight.detach().clone()
    # the global random stream is untouched
    assert torch.equal(torch.rand(3), expected_next)
    assert head.fc_cls.weight not in optimizer.state
    assert abs(float(first.std()) - 0.01) < 0.002
    assert (head.fc_cls.bias == 0).all()
    with torch.no_grad():
        head.fc_cls.weight.add_(1.)
    DeepClusterHook._reinit_head(runner, head, seed=5)
    assert torch.equal(head.fc_cls.weight, first)
    DeepClusterHook._reinit_head(runner, head, seed=6)
    assert not torch.equal(head.fc_cls.weight, first)


class Interrupt(Exception):
    """Stops a run after a checkpoint, as a killed job."""


class InterruptAfterEpoch(Hook):

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def after_train_epoch(self, runner) -> None:
        if runner.epoch + 1 == self.epoch:
            raise Interrupt


def assert_same_run(resumed, straight, straight_dir) -> None:
    np.testing.assert_array_equal(
        resumed.train_dataloader.dataset.labels.numpy(),
        np.load(straight_dir / 'cluster_epoch_2.npy'))
    for name, value in straight.model.state_dict().items():
        torch.testing.assert_close(
            resumed.model.state_dict()[name], value, msg=name)


def resume(tmp_path, name: str) -> Runner:
    cfg = tiny_cfg(tmp_path, name, epochs=3)
    cfg.resume = True
    cfg.load_from = str(tmp_path / name / 'epoch_2.pth')
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_resume_after_interruption_restores_labels(tmp_path, straight_run):
    first = Runner.from_cfg(tiny_cfg(tmp_path, 'killed', epochs=3))
    first.register_hook(InterruptAfterEpoch(2), priority='LOWEST')
    with pytest.raises(Interrupt):
        first.train()
    resumed = resume(tmp_path, 'killed')
    # the labels saved with epoch_2.pth are used: no clustering
    assert len(hook_of(resumed).clustering_seconds) == 0
    assert_same_run(resumed, *straight_run)


def test_resume_of_a_finished_run_clusters_first(tmp_path, straight_run):
    """A 2-epoch run skipped the clustering after its last epoch; extending
    it to 3 epochs does that clustering first."""
    Runner.from_cfg(tiny_cfg(tmp_path, 'extended', epochs=2)).train()
    resumed = resume(tmp_path, 'extended')
    assert len(hook_of(resumed).clustering_seconds) == 1
    assert_same_run(resumed, *straight_run)


def test_model_errors_name_the_fix(tmp_path):
    init_default_scope('mmodc')
    cfg = Config.fromfile(DEEPCLUSTER_FMNIST)
    from mmodc.registry import MODELS
    model = MODELS.build(cfg.model)
    images = torch.randn(2, 1, 28, 28)
    from mmpretrain.structures import DataSample
    with pytest.raises(KeyError, match='DeepClusterDataset'):
        model.loss(images, [DataSample(), DataSample()])
    unlabelled = [DataSample(clustering_label=-1) for _ in range(2)]
    with pytest.raises(RuntimeError, match='initial=True'):
        model.loss(images, unlabelled)


def test_hook_errors_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="clustering.type='PIC'"):
        DeepClusterHook(dict(), dict(type='PIC', k=3))
    cfg = tiny_cfg(tmp_path, epochs=1)
    cfg.custom_hooks[0].clustering.k = 7
    with pytest.raises(ValueError, match='clustering.k=7 differs from '
                       'model.head.num_classes=6'):
        Runner.from_cfg(cfg).train()
    cfg = tiny_cfg(tmp_path, epochs=1)
    cfg.train_dataloader.dataset = cfg.train_dataloader.dataset.dataset
    with pytest.raises(TypeError, match="dict\\(type='DeepClusterDataset'"):
        Runner.from_cfg(cfg).train()
    cfg = tiny_cfg(tmp_path, epochs=1)
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    with pytest.raises(TypeError, match="type='DeepClusterSampler'"):
        Runner.from_cfg(cfg).train()
