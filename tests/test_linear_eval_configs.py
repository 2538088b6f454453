"""The linear-evaluation configs: reference numbers, checkpoint loading, and
a short run with the real Runner on tiny fake data in each real layout."""
import copy
import json
import os.path as osp
import shutil
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from PIL import Image
from test_configs import make_fake_imagenet

import mmodc  # noqa: F401
from mmodc.registry import MODELS

pytestmark = pytest.mark.usefixtures('single_thread')

BENCHMARKS = osp.join(REPO, 'configs', 'benchmarks', 'classification')
MHEAD = {
    'imagenet': 'imagenet/resnet50{}_mhead_linear-8xb32-steplr-90e_in1k.py',
    'places205': 'places205/resnet50{}_mhead_8xb32-steplr-28e_places205.py',
    'inat18': 'inat18/resnet50{}_mhead_8xb32-steplr-84e_inat18.py',
}
LINEAR = 'imagenet/resnet50_linear-8xb32-steplr-100e_in1k.py'
#: dataset -> (classes, milestones, epochs) of the reference (the table of
#: configs/benchmarks/classification/README.md)
SCHEDULES = {
    'imagenet': (1000, [30, 60, 90], 90),
    'places205': (205, [7, 14, 21], 28),
    'inat18': (8142, [24, 48, 72], 84),
}
ODC = osp.join(REPO, 'configs', 'selfsup', 'odc',
               'odc_resnet50_8xb64-steplr-440e_in1k.py')
DEEPCLUSTER_SOBEL = osp.join(
    REPO, 'configs', 'selfsup', 'deepcluster',
    'deepcluster-sobel_resnet50_8xb64-steplr-200e_in1k.py')
NUM_CLASSES = 5  # the fake data sets' labels are below this
#: crop sizes of the real pipelines -> the tiny runs' (CPU-sized)
SMALL_SIZES = {224: 64, 256: 72}
REFERENCE_SIDES = (12, 6, 4, 3, 2)


def mhead_config(dataset: str, sobel: bool = False) -> Config:
    """One of the multi-head configs."""
    name = MHEAD[dataset].format('-sobel' if sobel else '')
    return Config.fromfile(osp.join(BENCHMARKS, name))


# ------------------------------------------------------ reference numbers
@pytest.mark.parametrize('sobel', [False, True])
@pytest.mark.parametrize('dataset', sorted(MHEAD))
def test_mhead_configs_keep_the_reference_numbers(dataset, sobel):
    cfg = mhead_config(dataset, sobel)
    classes, milestones, epochs = SCHEDULES[dataset]
    assert cfg.default_scope == 'mmodc'
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4, nesterov=True)
    assert cfg.optim_wrapper.paramwise_cfg == dict(norm_decay_mult=0.)
    assert [(s.type, s.milestones, s.gamma) for s in cfg.param_scheduler
            ] == [('MultiStepLR', milestones, 0.1)]
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.auto_scale_lr.base_batch_size == 256  # 8 GPUs x 32
    assert cfg.default_hooks.checkpoint.interval == 10
    assert not any(hook.type == 'RandomStatesHook'
                   for hook in cfg.get('custom_hooks', []))
    backbone = cfg.model.backbone
    assert backbone.init_cfg == dict(
        type='Pretrained', checkpoint=None, prefix='backbone.', strict=True)
    if sobel:
        assert backbone.type == 'SobelBackbone'
        backbone = backbone.backbone
    assert (backbone.type, backbone.depth, backbone.in_channels) == (
        'MultiLevelResNet', 50, 2 if sobel else 3)
    # feature1 is the stem: level 0 of the backbone, level 1 of neck and head
    assert backbone.out_indices == [0, 1, 2, 3, 4]
    assert backbone.frozen_stages == 4 and backbone.norm_eval
    assert cfg.model.neck == dict(
        type='MultiPooling', levels=[1, 2, 3, 4, 5], pools='resnet50')
    head = cfg.model.head
    assert head.num_classes == classes
    assert head.levels == [1, 2, 3, 4, 5]
    assert head.feat_dims == [9216, 9216, 8192, 9216, 8192]
    assert head.norm_cfg == dict(type='SyncBN', momentum=0.1, affine=False)
    assert cfg.val_evaluator.type == 'MultiHeadAccuracy'
    assert transform_types(cfg.val_dataloader) == [
        ('ResizeEdge', 256), ('CenterCrop', 224)
    ]
    # testing is validation again (not ImageNet's loader of the base file)
    assert cfg.test_dataloader == cfg.val_dataloader
    assert cfg.test_evaluator == cfg.val_evaluator


def transform_types(loader: dict) -> list:
    """(type, size) of a loader's transforms between loading and packing."""
    return [(t.type, t.get('scale', t.get('crop_size')))
            for t in loader.dataset.pipeline[1:-1]]


def test_mhead_training_augmentations():
    imagenet = mhead_config('imagenet').train_dataloader
    assert transform_types(imagenet) == [
        ('RandomResizedCrop', 224), ('RandomFlip', None),
        ('ColorJitter', None), ('Lighting', None)
    ]
    jitter = imagenet.dataset.pipeline[3]
    assert (jitter.brightness, jitter.contrast, jitter.saturation,
            jitter.hue) == (0.4, 0.4, 0.4, 0.)
    assert transform_types(mhead_config('places205').train_dataloader) == [
        ('ResizeEdge', 256), ('CenterCrop', 256), ('RandomCrop', 224),
        ('RandomFlip', None)
    ]
    assert transform_types(mhead_config('inat18').train_dataloader) == [
        ('RandomResizedCrop', 224), ('RandomFlip', None)
    ]


def test_linear_config_keeps_the_reference_numbers():
    cfg = Config.fromfile(osp.join(BENCHMARKS, LINEAR))
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=30., momentum=0.9, weight_decay=0.)
    assert [s.milestones for s in cfg.param_scheduler] == [[60, 80]]
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.model.neck.type == 'GlobalAveragePooling'
    assert (cfg.model.head.type, cfg.model.head.num_classes) == (
        'LinearClsHead', 1000)
    backbone = cfg.model.backbone
    assert (backbone.type, backbone.depth, backbone.out_indices) == (
        'ResNet', 50, [3])
    assert backbone.frozen_stages == 4 and backbone.norm_eval
    assert backbone.init_cfg == dict(
        type='Pretrained', checkpoint=None, prefix='backbone.', strict=True)
    assert transform_types(cfg.train_dataloader) == [
        ('RandomResizedCrop', 224), ('RandomFlip', None)
    ]
    assert cfg.val_evaluator == dict(type='Accuracy', topk=(1, 5))


# ------------------------------------------------ pre-training checkpoints
def save_pretraining_checkpoint(config: str, path: Path) -> None:
    """Save a (randomly initialised) ODC / DeepCluster model of ``config``
    as a Runner checkpoint, its BN statistics no longer 0 and 1."""
    cfg = Config.fromfile(config)
    cfg.model.head.num_classes = 4  # not 10,000 clusters of 1.3 M images
    if 'memory_bank' in cfg.model:
        cfg.model.memory_bank.update(length=8, num_classes=4, min_cluster=1)
    init_default_scope('mmodc')
    state = MODELS.build(cfg.model).state_dict()
    with torch.no_grad():
        for key, value in state.items():
            if key.endswith('running_mean'):
                value.normal_(0., 0.1)
            elif key.endswith('running_var'):
                value.uniform_(0.5, 1.5)
    torch.save(dict(meta=dict(epoch=1), state_dict=state), path)


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory) -> Dict[str, Path]:
    """An ODC (RGB) and a DeepCluster-Sobel checkpoint."""
    root = tmp_path_factory.mktemp('checkpoints')
    paths = dict(plain=root / 'odc.pth', sobel=root / 'deepcluster.pth')
    save_pretraining_checkpoint(ODC, paths['plain'])
    save_pretraining_checkpoint(DEEPCLUSTER_SOBEL, paths['sobel'])
    return paths


def assert_loaded_exactly(loaded: Dict[str, torch.Tensor],
                          checkpoint: Path) -> None:
    """``loaded`` (a backbone's state dict) is the checkpoint's
    ``backbone.*`` entries, key for key and value for value."""
    state = torch.load(checkpoint, weights_only=False)['state_dict']
    saved = {
        key[len('backbone.'):]: value
        for key, value in state.items() if key.startswith('backbone.')
    }
    assert loaded.keys() == saved.keys()
    for key, value in saved.items():
        assert torch.equal(loaded[key], value), key


def test_a_checkpoint_of_another_stem_is_refused(checkpoints):
    cfg = mhead_config('imagenet')
    cfg.model.backbone.init_cfg.checkpoint = str(checkpoints['sobel'])
    init_default_scope('mmodc')
    model = MODELS.build(cfg.model)
    with pytest.raises(RuntimeError, match=r'(?s)does not fit the model: '
                       r'\d+ missing \(e\.g\. conv1\.weight.*-sobel config'):
        model.init_weights()


@pytest.mark.parametrize('sobel', [False, True])
def test_a_backbone_only_file_loads(sobel, checkpoints, tmp_path):
    """A backbone-only file (keys without prefix, as OpenSelfSup and the
    DeepCluster release published them) loads through the config's
    prefix='backbone.' Pretrained, also inside the Sobel front end."""
    kind = 'sobel' if sobel else 'plain'
    state = torch.load(checkpoints[kind], weights_only=False)['state_dict']
    prefix = 'backbone.backbone.' if sobel else 'backbone.'
    backbone_only = {key[len(prefix):]: value
                     for key, value in state.items() if key.startswith(prefix)}
    torch.save(dict(state_dict=backbone_only), tmp_path / 'backbone.pth')
    cfg = mhead_config('imagenet', sobel=sobel)
    cfg.model.backbone.init_cfg.checkpoint = str(tmp_path / 'backbone.pth')
    init_default_scope('mmodc')
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert_loaded_exactly(model.backbone.state_dict(), checkpoints[kind])


@pytest.mark.parametrize('checkpoint, error, message', [
    (None, ValueError, 'checkpoint=None.*--cfg-options '
     r'model\.backbone\.init_cfg\.checkpoint='),
    ('missing.pth', FileNotFoundError, 'checkpoint missing.pth not found'),
])
def test_a_missing_checkpoint_stops_training(checkpoint, error, message,
                                             tmp_path):
    cfg = mhead_config('imagenet')
    cfg.model.backbone.init_cfg.checkpoint = checkpoint
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)  # building needs no data
    with pytest.raises(error, match=message):
        runner._init_model_weights()


# ------------------------------------------------------- tiny fake data
def write_image(path: Path, seed: int) -> None:
    """A random 80 x 96 JPEG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(
        0, 255, (80, 96, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, 'JPEG')


def fake_imagenet(root: Path) -> None:
    """make_fake_imagenet's train/ plus a flat val/ and meta/val.txt."""
    make_fake_imagenet(root)
    (root / 'val').mkdir()
    lines = (root / 'meta' / 'train.txt').read_text().splitlines()[::3]
    names = []
    for index, line in enumerate(lines):
        path, label = line.split()
        name = f'ILSVRC2012_val_{index:08d}.JPEG'
        shutil.copy(root / 'train' / path, root / 'val' / name)
        names.append(f'{name} {label}\n')
    (root / 'meta' / 'val.txt').write_text(''.join(names))


def fake_places205(root: Path) -> None:
    """meta/{train,val}_labeled.txt over train/ and val/ images."""
    (root / 'meta').mkdir(parents=True)
    for split, count in (('train', 6), ('val', 3)):
        lines = []
        for index in range(count):
            label = index % 3
            path = f'{"abc"[label]}/scene_{label}/{index:08d}.jpg'
            write_image(root / split / path, index)
            lines.append(f'{path} {label}\n')
        (root / 'meta' / f'{split}_labeled.txt').write_text(''.join(lines))


def fake_inat18(root: Path) -> None:
    """train2018.json / val2018.json over train_val2018/ images."""
    categories = [dict(id=i, name=f'species {i}', supercategory='Plantae')
                  for i in range(3)]
    image_id = 0
    for split, count in (('train', 6), ('val', 3)):
        images, annotations = [], []
        for index in range(count):
            image_id += 1
            file_name = (f'train_val2018/Plantae/{index % 3}/'
                         f'{image_id:032x}.jpg')
            write_image(root / file_name, image_id)
            images.append(dict(id=image_id, file_name=file_name, width=96,
                               height=80))
            annotations.append(dict(id=image_id, image_id=image_id,
                                    category_id=index % 3))
        (root / f'{split}2018.json').write_text(json.dumps(dict(
            images=images, annotations=annotations, categories=categories)))


FAKE_DATA = dict(imagenet=fake_imagenet, places205=fake_places205,
                 inat18=fake_inat18)
#: dataset -> (training, validation) images of its fake data
FAKE_SPLIT_SIZES = dict(imagenet=(12, 4), places205=(6, 3), inat18=(6, 3))


def shrink_sizes(pipeline: list) -> None:
    """Scale the pipeline's crop and resize sizes down (in place)."""
    for transform in pipeline:
        for key in ('scale', 'crop_size'):
            if transform.get(key) in SMALL_SIZES:
                transform[key] = SMALL_SIZES[transform[key]]


def tiny_run_config(cfg: Config, data_root: Path,
                    checkpoint: Optional[Path], work_dir: Path) -> Config:
    """The config on fake data: small images (adaptive pooling to the
    reference sizes, so the head keeps its dims), NUM_CLASSES classes, 2
    iterations then a validation, no workers; ``checkpoint`` is the
    pre-training one (None: none)."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = work_dir.parent.name  # unique per test
    cfg.model.head.num_classes = NUM_CLASSES
    cfg.model.backbone.init_cfg.checkpoint = (
        None if checkpoint is None else str(checkpoint))
    if cfg.model.neck.type == 'MultiPooling':
        cfg.model.neck.pools = [dict(output_size=side)
                                for side in REFERENCE_SIDES]
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.update(batch_size=2, num_workers=0, persistent_workers=False,
                      pin_memory=False)
        loader.dataset.data_root = str(data_root)
        shrink_sizes(loader.dataset.pipeline)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2,
                         val_interval=2)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=-1, save_last=False)
    cfg.log_processor = dict(by_epoch=False)
    return cfg


class Recorder(Hook):
    """Keeps the backbone and head weights at the start of training, the
    training outputs and the validation metrics."""

    def before_train(self, runner) -> None:
        self.backbone = copy.deepcopy(runner.model.backbone.state_dict())
        self.head = copy.deepcopy(runner.model.head.state_dict())
        self.outputs, self.metrics = [], None

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.outputs.append(outputs)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.metrics = metrics


def run_tiny(cfg: Config, dataset: str, checkpoint: Path,
             tmp_path: Path) -> tuple:
    """Train the shrunk config 2 iterations and validate, each loader on its
    own split's annotation file; return the runner and its Recorder."""
    FAKE_DATA[dataset](tmp_path / dataset)
    runner = Runner.from_cfg(
        tiny_run_config(cfg, tmp_path / dataset, checkpoint,
                        tmp_path / 'work'))
    recorder = Recorder()
    runner.register_hook(recorder, priority='LOWEST')
    runner.train()
    assert (len(runner.train_dataloader.dataset),
            len(runner.val_dataloader.dataset)) == FAKE_SPLIT_SIZES[dataset]
    return runner, recorder


def assert_frozen_backbone_and_trained_head(runner, recorder) -> List[str]:
    """Backbone weights and BN statistics unchanged; the head's changed
    (their keys are returned)."""
    after = runner.model.backbone.state_dict()
    for key, value in recorder.backbone.items():
        assert torch.equal(after[key], value), key
    head = runner.model.head.state_dict()
    changed = [key for key, value in recorder.head.items()
               if value.is_floating_point()
               and not torch.equal(head[key], value)]
    assert changed, 'the head did not train'
    return changed


@pytest.mark.parametrize('sobel', [False, True])
@pytest.mark.parametrize('dataset', sorted(MHEAD))
def test_mhead_config_trains_and_validates(dataset, sobel, checkpoints,
                                           tmp_path):
    kind = 'sobel' if sobel else 'plain'
    runner, recorder = run_tiny(
        mhead_config(dataset, sobel), dataset, checkpoints[kind], tmp_path)
    assert runner.iter == 2
    names = [f'feature{level}' for level in range(1, 6)]
    for outputs in recorder.outputs:
        assert all(torch.isfinite(value) for value in outputs.values())
        assert {f'loss_{name}' for name in names} | {
            f'accuracy_{name}' for name in names} | {'loss'} == set(outputs)
        total = sum(outputs[f'loss_{name}'] for name in names)
        assert torch.isclose(outputs['loss'], total)
    assert set(recorder.metrics) == {
        f'{name}/top{k}' for name in names for k in (1, 5)
    }
    changed = assert_frozen_backbone_and_trained_head(runner, recorder)
    assert {f'fcs.{i}.weight' for i in range(5)} <= set(changed)
    assert {f'norms.{i}.running_mean' for i in range(5)} <= set(changed)
    assert_loaded_exactly(recorder.backbone, checkpoints[kind])


def test_linear_config_trains_and_validates(checkpoints, tmp_path):
    cfg = Config.fromfile(osp.join(BENCHMARKS, LINEAR))
    runner, recorder = run_tiny(cfg, 'imagenet', checkpoints['plain'],
                                tmp_path)
    assert all('loss' in outputs for outputs in recorder.outputs)
    assert set(recorder.metrics) == {'accuracy/top1', 'accuracy/top5'}
    changed = assert_frozen_backbone_and_trained_head(runner, recorder)
    assert 'fc.weight' in changed
    assert_loaded_exactly(recorder.backbone, checkpoints['plain'])


def test_a_trained_classifier_is_tested_without_the_pretraining_checkpoint(
        tmp_path):
    """`mim test ... --checkpoint` (the README): the config's pre-training
    checkpoint stays None, and every weight comes from the tested one."""
    fake_imagenet(tmp_path / 'imagenet')
    cfg = tiny_run_config(mhead_config('imagenet'), tmp_path / 'imagenet',
                          None, tmp_path / 'work')
    cfg.test_dataloader = cfg.val_dataloader
    init_default_scope('mmodc')
    state = MODELS.build(cfg.model).state_dict()
    cfg.load_from = str(tmp_path / 'linear.pth')
    torch.save(dict(meta=dict(epoch=90), state_dict=state), cfg.load_from)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    assert set(metrics) == {
        f'feature{level}/top{k}' for level in range(1, 6) for k in (1, 5)
    }
    tested = runner.model.state_dict()
    assert tested.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(tested[key], value), key
