"""tools/benchmarks/svm_voc07.py end to end on a fake VOCdevkit (JPEGs, XML
annotations with difficult flags, ImageSets/Main lists) and a ResNet-18."""
import importlib.util
import json
import os.path as osp
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from PIL import Image

from mmodc.analysis.svm_benchmark import dataset_targets, extract_levels
from mmodc.registry import MODELS

TOOL = osp.join(REPO, 'tools', 'benchmarks', 'svm_voc07.py')
CONFIG = osp.join(REPO, 'configs', 'benchmarks', 'classification', 'voc07',
                  'svm_resnet50_voc07.py')
CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
           'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike',
           'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')
# a ResNet-18 (same levels and pooling, smaller channels), no workers
SMALL_MODEL = {
    'model.backbone.depth': 18,
    'train_dataloader.num_workers': 0,
    'test_dataloader.num_workers': 0,
    'train_dataloader.batch_size': 16,
    'test_dataloader.batch_size': 16,
}


def load_tool():
    spec = importlib.util.spec_from_file_location('svm_voc07_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def leaves(tree) -> Dict[str, float]:
    """Every number of a nested result, keyed by its path."""
    if isinstance(tree, dict):
        return {
            f'{key}/{path}': value
            for key, child in tree.items()
            for path, value in leaves(child).items()
        }
    if isinstance(tree, list):
        return leaves(dict(enumerate(tree)))
    return {'': tree}


def annotation(objects: List[tuple]) -> str:
    """A VOC XML annotation of (class name, difficult) objects."""
    parts = [
        f'<object><name>{name}</name><difficult>{int(difficult)}'
        '</difficult></object>' for name, difficult in objects
    ]
    return f"<annotation>{''.join(parts)}</annotation>"


def write_split(root: Path, split: str, images: Dict[str, list],
                rng: np.random.Generator) -> None:
    """JPEGs, annotations and the ImageSets list of one split."""
    for name, objects in images.items():
        pixels = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / 'JPEGImages' / f'{name}.jpg')
        (root / 'Annotations' / f'{name}.xml').write_text(annotation(objects))
    (root / 'ImageSets' / 'Main' / f'{split}.txt').write_text(
        ''.join(f'{name}\n' for name in images))


@pytest.fixture(scope='module')
def fake_voc(tmp_path_factory) -> Path:
    """VOC2007 layout: 60 trainval and 24 test images; every class has at
    least 3 positives in trainval; image 'test_000' holds only a difficult
    'cat' and a non-difficult 'dog'."""
    root = tmp_path_factory.mktemp('voc') / 'VOC2007'
    for folder in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
        (root / folder).mkdir(parents=True)
    rng = np.random.default_rng(0)
    trainval = {
        f'trainval_{i:03d}': [(CLASSES[i % 20], False),
                              (CLASSES[(i * 7 + 3) % 20], i % 5 == 0)]
        for i in range(60)
    }
    test = {
        f'test_{i:03d}': [(CLASSES[(i * 3) % 20], False)]
        for i in range(1, 24)
    }
    test['test_000'] = [('cat', True), ('dog', False)]
    write_split(root, 'trainval', trainval, rng)
    write_split(root, 'test', test, rng)
    return root


def voc_cfg(root: Path) -> Config:
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(SMALL_MODEL)
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(root)
    return cfg


def cfg_options(root: Path) -> List[str]:
    return ['--cfg-options',
            *(f'{key}={value}' for key, value in SMALL_MODEL.items()),
            f'train_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}']


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> str:
    """An ODC-style checkpoint: backbone.* keys of a ResNet-18, plus a neck
    key that the benchmark must not need."""
    init_default_scope('mmodc')
    torch.manual_seed(3)
    backbone = MODELS.build(dict(type='MultiLevelResNet', depth=18,
                                 out_indices=[0, 1, 2, 3, 4]))
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    state['neck.fc0.weight'] = torch.zeros(2, 2)
    path = tmp_path_factory.mktemp('ckpt') / 'odc.pth'
    torch.save(dict(state_dict=state, meta={}), path)
    return str(path)


def test_voc_targets_mark_difficult(fake_voc: Path) -> None:
    init_default_scope('mmodc')
    dataset = Runner.build_dataloader(
        voc_cfg(fake_voc).test_dataloader).dataset
    targets = dataset_targets(dataset).to_array('voc_devkit')
    assert targets.shape == (24, 20)
    row = targets[next(
        index for index in range(len(dataset))
        if dataset.get_data_info(index)['img_path'].endswith('test_000.jpg'))]
    assert row[CLASSES.index('cat')] == 0
    assert row[CLASSES.index('dog')] == 1
    assert int((row == -1).sum()) == 18


def test_tool_end_to_end_and_repeatable(fake_voc: Path, checkpoint: str,
                                        tmp_path: Path, capsys) -> None:
    tool = load_tool()
    work = tmp_path / 'run'
    common = [CONFIG, checkpoint, '--levels', '1', '5',
              '--low-shot-levels', '5', '--shots', '1', '2', '--draws', '3',
              '--work-dir', str(work), *cfg_options(fake_voc)]
    result = tool.main(common)
    saved = json.loads((work / 'svm_voc07.json').read_text())
    assert set(saved['full']) == {'feature1', 'feature5'}
    for level in saved['full'].values():
        assert len(level['ap']) == 20 and 0 <= level['map'] <= 1
        assert level['map'] == pytest.approx(np.nanmean(level['ap']))
    low_shot = saved['low_shot']['feature5']
    assert set(low_shot) == {'1', '2'}
    assert low_shot['1']['cross_validated']['cv_from_k'] == 2
    # the printed tables hold the saved numbers
    table = capsys.readouterr().out
    for name, level in saved['full'].items():
        assert f'| {name} | {100 * level["map"]:.2f} |' in table
    for shot, row in low_shot.items():
        reference = row['reference']
        assert (f'| {shot} | {100 * reference["map_mean"]:.2f} ± '
                f'{100 * reference["map_std"]:.2f} | '
                f'{reference["cost"]:g} |') in table
    assert '(costs from k=2) |' in table
    features = torch.load(work / 'features.pt')
    assert features['train'][1].shape == (60, 9216)  # 64 x 12 x 12, stem
    assert features['train'][5].shape == (60, 2048)  # 512 x 2 x 2
    draws = np.load(work / 'low_shot_samples.npz')
    assert draws['k2'].shape == (3, 20, 40)

    # reused draws keep the record of the seed that drew them
    again = tool.main(common + ['--load-features', '--seed', '7', '--samples',
                                str(work / 'low_shot_samples.npz')])
    reused = np.load(work / 'low_shot_samples.npz')
    np.testing.assert_array_equal(reused['k2'], draws['k2'])
    assert int(reused['seed']) == 0
    for kind in ('full', 'low_shot'):
        assert leaves(again[kind]) == pytest.approx(leaves(result[kind]),
                                                    rel=1e-3, nan_ok=True)


def test_checkpoint_weights_reach_the_features(fake_voc: Path,
                                               checkpoint: str,
                                               tmp_path: Path) -> None:
    tool = load_tool()
    runs = {}
    backbone_only = tmp_path / 'backbone.pth'
    torch.save({
        key[len('backbone.'):]: value
        for key, value in torch.load(checkpoint)['state_dict'].items()
        if key.startswith('backbone.')
    }, backbone_only)
    for name, weights in (('trained', [checkpoint]),
                          ('backbone_only', [str(backbone_only)]),
                          ('fresh', ['--no-checkpoint'])):
        work = tmp_path / name
        tool.main([CONFIG, *weights, '--levels', '5', '--work-dir',
                   str(work), *cfg_options(fake_voc)])
        runs[name] = torch.load(work / 'features.pt')['test'][5]
    init_default_scope('mmodc')
    cfg = voc_cfg(fake_voc)
    model = MODELS.build(cfg.model)
    state = torch.load(checkpoint)['state_dict']
    model.backbone.load_state_dict(
        {k[len('backbone.'):]: v
         for k, v in state.items() if k.startswith('backbone.')})
    model.eval()
    loader = Runner.build_dataloader(cfg.test_dataloader)
    batch = next(iter(loader))
    data = model.data_preprocessor(batch, False)
    with torch.no_grad():
        expected = model.extract_feat(data['inputs'])[-1].flatten(1)
    torch.testing.assert_close(runs['trained'][:len(expected)], expected,
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(runs['backbone_only'], runs['trained'])
    assert not torch.allclose(runs['fresh'], runs['trained'])


@pytest.mark.parametrize('argv, message', [
    ([], 'CHECKPOINT or --no-checkpoint'),
    (['--no-checkpoint', '--no-full'], 'nothing to do'),
])
def test_usage_errors(argv: List[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        load_tool().parse_args([CONFIG, *argv])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_fashion_mnist_config_levels_and_targets(quickstart_cfg) -> None:
    """The Fashion-MNIST SVM config: five levels of 512-576 dims from the
    quickstart's backbone, one-vs-rest targets of the 10 classes."""
    init_default_scope('mmodc')
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'benchmarks', 'classification',
                 'fashionmnist', 'svm_resnet18-w16_fashionmnist.py'))
    cfg.train_dataloader.dataset.indices = 12
    cfg.train_dataloader.batch_size = 6
    loader = Runner.build_dataloader(cfg.train_dataloader)
    model = MODELS.build(cfg.model).eval()
    levels = extract_levels(model, loader, model.neck.levels)
    assert [levels[level].shape for level in range(1, 6)] == [
        (12, dims) for dims in (576, 576, 512, 576, 512)
    ]
    backbone_keys = set(MODELS.build(quickstart_cfg.model).backbone.
                        state_dict())
    assert set(model.backbone.state_dict()) == backbone_keys
    targets = dataset_targets(loader.dataset)
    assert targets.positive.shape == (12, 10)
    assert not targets.difficult.any()
    assert targets.positive.sum(1).tolist() == [1] * 12
    labels = loader.dataset.get_gt_labels()
    assert targets.positive.long().argmax(1).tolist() == list(labels)


def test_codc_members_are_picked_and_concatenated(fake_voc: Path,
                                                   checkpoint: str,
                                                   tmp_path: Path,
                                                   capsys) -> None:
    """--models a,b takes members.a.backbone.* and members.b.backbone.*
    and joins their features at every level, in that order; an unknown
    member is refused with the members listed."""
    tool = load_tool()
    odc_state = torch.load(checkpoint)['state_dict']
    torch.manual_seed(5)
    other = MODELS.build(dict(type='MultiLevelResNet', depth=18,
                              out_indices=[0, 1, 2, 3, 4]))
    codc_state = {
        f'members.a.{key}': value for key, value in odc_state.items()
        if key.startswith('backbone.')
    }
    codc_state.update((f'members.b.backbone.{key}', value)
                      for key, value in other.state_dict().items())
    codc = tmp_path / 'codc.pth'
    torch.save(dict(state_dict=codc_state, meta={}), codc)
    features = {}
    for name, weights in (('odc', [checkpoint]),
                          ('ab', [str(codc), '--models', 'a,b'])):
        work = tmp_path / name
        tool.main([CONFIG, *weights, '--levels', '5', '--work-dir',
                   str(work), *cfg_options(fake_voc)])
        features[name] = torch.load(work / 'features.pt')['test'][5]
    # member a has the ODC checkpoint's backbone, b another one
    width = features['odc'].shape[1]
    assert features['ab'].shape[1] == 2 * width
    torch.testing.assert_close(features['ab'][:, :width], features['odc'])
    assert not torch.allclose(features['ab'][:, width:], features['odc'])
    with pytest.raises(SystemExit):
        tool.main([CONFIG, str(codc), '--models', 'c', '--levels', '5',
                   '--work-dir', str(tmp_path / 'c'), *cfg_options(fake_voc)])
    assert "has no member 'c'; its members are ['a', 'b']" in \
        capsys.readouterr().err
