"""Sizes from the data (:mod:`mmodc.engine.data_sizes`): ``'auto'`` memory
length and number of clusters set from the training set before the Runner
is built, and a checkpoint's memory of another length refused on load."""
import copy
import importlib.util
import os.path as osp

import pytest
import torch
from conftest import REPO, shrink_config
from mmengine.runner.checkpoint import load_state_dict
from tiny_setup import write_images

from mmodc.engine import auto_num_clusters, resolve_data_sizes
from mmodc.models.heads import ClusterClsHead
from mmodc.models.memories import ODCMemory

DEEPCLUSTER = osp.join(
    REPO, 'configs', 'selfsup', 'deepcluster',
    'deepcluster_resnet18-w16_1xb256-steplr-8e_fashionmnist.py')


def load_runner_setup():
    path = osp.join(REPO, 'tools', '_runner_setup.py')
    spec = importlib.util.spec_from_file_location('runner_setup', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('num_images, expected', [
    (5, 5), (3000, 10), (60000, 60), (1281167, 1281), (50_000_000, 10000)
])
def test_auto_num_clusters_rule(num_images, expected):
    assert auto_num_clusters(num_images) == expected


def auto_config(cfg, num_images: int, tmp_path, clusters='auto'):
    """A small ODC / DeepCluster config whose sizes are left to the data."""
    cfg = shrink_config(cfg, num_images, 7, 64, str(tmp_path))
    if 'memory_bank' in cfg.model:
        cfg.model.memory_bank.update(length='auto', num_classes=clusters)
    cfg.model.head.num_classes = clusters
    hook = next(h for h in cfg.custom_hooks if h.type == 'DeepClusterHook')
    hook.clustering.k = clusters
    return cfg, hook


def test_resolve_odc_sizes_from_the_training_set(quickstart_cfg, tmp_path):
    cfg, hook = auto_config(quickstart_cfg, 3000, tmp_path)
    assert resolve_data_sizes(cfg) == 3000
    assert cfg.model.memory_bank.length == 3000
    assert cfg.model.memory_bank.num_classes == 10  # 3000 / 1000, min 10
    assert cfg.model.head.num_classes == 10
    assert hook.clustering.k == 10
    assert resolve_data_sizes(cfg) is None  # nothing left to count


def test_an_explicit_k_is_kept_and_copied(quickstart_cfg, tmp_path):
    cfg, hook = auto_config(quickstart_cfg, 400, tmp_path)
    cfg.model.head.num_classes = 8
    resolve_data_sizes(cfg)
    assert cfg.model.memory_bank.num_classes == hook.clustering.k == 8
    assert cfg.model.memory_bank.length == 400


def test_disagreeing_or_too_many_clusters_are_refused(quickstart_cfg,
                                                      tmp_path):
    cfg, hook = auto_config(quickstart_cfg, 400, tmp_path, clusters=8)
    hook.clustering.k = 9
    with pytest.raises(ValueError, match=r'numbers of clusters differ: .*'
                       r'model.head.num_classes=8, custom_hooks.\d.'
                       r'clustering.k=9'):
        resolve_data_sizes(cfg)
    cfg, _ = auto_config(quickstart_cfg, 40, tmp_path, clusters=50)
    with pytest.raises(ValueError, match='50 clusters for 40 training'):
        resolve_data_sizes(cfg)


def test_unresolved_sizes_say_how_to_resolve():
    with pytest.raises(ValueError, match=r'model.memory_bank.length="auto" '
                       r'is set from the training set.*resolve_data_sizes'):
        ODCMemory(length='auto', feat_dim=4, num_classes=3, min_cluster=1)
    with pytest.raises(ValueError, match=r'model.head.num_classes="auto"'):
        ClusterClsHead(in_channels=4, num_classes='auto')
    with pytest.raises(ValueError, match='positive integer or "auto", got '
                       '0'):
        ODCMemory(length=10, feat_dim=4, num_classes=0)


@pytest.mark.parametrize('algorithm', ['odc', 'deepcluster'])
def test_train_with_sizes_from_the_data(quickstart_cfg, tmp_path,
                                        algorithm):
    """tools' build_runner resolves the sizes; a real Runner trains one
    epoch of 320 images with a memory and head of the data's sizes."""
    from mmengine.config import Config
    base = (quickstart_cfg if algorithm == 'odc' else
            Config.fromfile(DEEPCLUSTER))
    cfg, _ = auto_config(base, 320, tmp_path)
    cfg.train_cfg.max_epochs = 1
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h.type != 'FeatureMonitorHook']
    for hook in cfg.custom_hooks:
        if hook.type == 'ODCHook':
            hook.evaluate_interval = 1
    runner = load_runner_setup().build_runner(cfg)
    runner.train()
    model = runner.model
    assert model.head.fc_cls.out_features == 10
    if algorithm == 'odc':
        assert model.memory_bank.feature_bank.shape[0] == 320
        assert bool(model.memory_bank.initialized)


def test_checkpoint_memory_of_another_length_is_refused():
    """Not skipped (as a non-strict resume would skip a size mismatch and
    keep zeros), but an error that says what differs."""
    saved = ODCMemory(length=100, feat_dim=4, num_classes=3, min_cluster=1)
    state = copy.deepcopy(saved.state_dict())
    for kwargs, pattern in (
            (dict(length=120, num_classes=3), r'holds 100 samples '
             r'\(feature_bank\) but this model\'s has 120'),
            (dict(length=100, num_classes=5), r'holds 3 clusters '
             r'\(centroids\) but this model\'s has 5')):
        memory = ODCMemory(feat_dim=4, min_cluster=1, **kwargs)
        with pytest.raises(ValueError, match=pattern):
            load_state_dict(memory, state, strict=False)
        with pytest.raises(ValueError, match=pattern):
            memory.load_state_dict(state, strict=False)
    same = ODCMemory(length=100, feat_dim=4, num_classes=3, min_cluster=1)
    state['feature_bank'] = torch.randn(100, 4)
    same.load_state_dict(state)
    torch.testing.assert_close(same.feature_bank, state['feature_bank'])


FOLDER_CONFIGS = {
    'odc': osp.join(REPO, 'configs', 'selfsup', 'odc',
                    'odc_resnet18-w16_1xb256-steplr-8e_image-folder.py'),
    'deepcluster': osp.join(
        REPO, 'configs', 'selfsup', 'deepcluster',
        'deepcluster_resnet18-w16_1xb256-steplr-8e_image-folder.py'),
}


def folder_config(algorithm: str, folder, work_dir):
    """The CPU image-folder config of ``algorithm`` on ``folder``, small:
    batches of 64, no workers, one epoch."""
    from mmengine.config import Config
    cfg = Config.fromfile(FOLDER_CONFIGS[algorithm])
    cfg.image_folder = str(folder)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.logger.interval = 1
    loaders = [cfg.train_dataloader] + [
        hook.get('extract_dataloader') or hook.get('dataloader')
        for hook in cfg.custom_hooks
        if hook.type in ('DeepClusterHook', 'BatchNormCalibrationHook')
    ]
    for loader in loaders:
        loader.update(batch_size=64, num_workers=0, persistent_workers=False)
    return cfg


def test_image_folder_config_needs_a_folder(tmp_path):
    from mmengine.config import Config

    from mmodc.engine import resolve_image_folder
    cfg = Config.fromfile(FOLDER_CONFIGS['odc'])
    with pytest.raises(ValueError, match="set image_folder = '/path/to/"):
        resolve_image_folder(cfg)
    cfg.image_folder = str(tmp_path / 'missing')
    with pytest.raises(ValueError, match='missing.* is not a directory'):
        resolve_image_folder(cfg)


@pytest.mark.parametrize('algorithm', ['odc', 'deepcluster'])
def test_train_on_an_image_folder(tmp_path, algorithm):
    """300 mixed images in nested folders: the sizes come from the folder
    (N = 300, K = 10 by the rule), one epoch trains, and the checkpoint
    has a memory / head of those sizes."""
    folder = tmp_path / 'images'
    write_images(folder, 300, seed=0)
    cfg = folder_config(algorithm, folder, tmp_path / 'work')
    runner = load_runner_setup().build_runner(cfg)
    runner.train()
    state = torch.load(tmp_path / 'work' / 'epoch_1.pth',
                       weights_only=False)['state_dict']
    assert state['head.fc_cls.weight'].shape == (10, 128)
    if algorithm == 'odc':
        assert state['memory_bank.feature_bank'].shape == (300, 128)
        assert bool(state['memory_bank.initialized'])


def test_resume_on_a_changed_folder_says_what_differs(tmp_path):
    folder = tmp_path / 'images'
    write_images(folder, 300, seed=0)
    load_runner_setup().build_runner(
        folder_config('odc', folder, tmp_path / 'work')).train()
    write_images(folder, 40, seed=1)  # the folder grew since
    cfg = folder_config('odc', folder, tmp_path / 'work')
    cfg.train_cfg.max_epochs = 2
    cfg.resume = True
    # refused when the runner is built, before anything loads
    with pytest.raises(ValueError, match=r"model\.memory_bank\.length: 300 "
                       r"in the checkpoint, 340 in this run"):
        load_runner_setup().build_runner(cfg)


GPU_FOLDER_CONFIGS = {
    'odc': osp.join(REPO, 'configs', 'selfsup', 'odc',
                    'odc_resnet50_8xb64-steplr-440e_image-folder.py'),
    'deepcluster': osp.join(
        REPO, 'configs', 'selfsup', 'deepcluster',
        'deepcluster_resnet50_8xb64-steplr-200e_image-folder.py'),
}


@pytest.mark.parametrize('algorithm', ['odc', 'deepcluster'])
def test_resnet50_image_folder_configs(tmp_path, algorithm):
    """The GPU configs (not trained here: a ResNet-50 at 224 px is too slow
    for a CPU test): sizes from a folder of 300 images, the model builds
    with them, and a training and an extraction sample are 224 x 224 crops
    of the folder's images."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmodc.registry import DATASETS, MODELS
    folder = tmp_path / 'images'
    write_images(folder, 300, seed=0)
    cfg = Config.fromfile(GPU_FOLDER_CONFIGS[algorithm])
    cfg.image_folder = str(folder)
    from mmodc.engine import resolve_image_folder
    resolve_image_folder(cfg)
    assert resolve_data_sizes(cfg) == 300
    assert cfg.model.head.num_classes == 10
    init_default_scope('mmodc')
    model = MODELS.build(cfg.model)
    assert model.head.fc_cls.out_features == 10
    if algorithm == 'odc':
        assert model.memory_bank.feature_bank.shape == (300, 256)
    train_set = DATASETS.build(cfg.train_dataloader.dataset)
    extract_set = DATASETS.build(cfg.custom_hooks[0].extract_dataloader
                                 .dataset)
    assert len(train_set) == len(extract_set) == 300
    for dataset in (train_set, extract_set):
        assert dataset[0]['inputs'].shape == (3, 224, 224)
    assert cfg.train_dataloader.drop_last
