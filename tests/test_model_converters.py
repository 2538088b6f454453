"""Checkpoint conversion (mmodc.models.utils.checkpoint_conversion) and the
tools/model_converters scripts, on generated checkpoints with the layouts of
the published ODC / DeepCluster weights (REFERENCE.md, model zoo)."""
import argparse
import importlib.util
import os.path as osp
from pathlib import Path
from types import ModuleType
from typing import Dict, List, Mapping, Sequence

import pytest
import torch
import torch.nn as nn
from conftest import REPO
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmpretrain.models import ResNet

from mmodc.models.utils import (
    CheckpointShapeError,
    convert_checkpoint,
    load_converted_checkpoint,
)
from mmodc.models.utils.checkpoint_conversion import group_keys
from mmodc.registry import MODELS

pytestmark = pytest.mark.usefixtures('single_thread')

CONFIGS = osp.join(REPO, 'configs')
ODC_CONFIG = osp.join(CONFIGS, 'selfsup', 'odc',
                      'odc_resnet50_8xb64-steplr-440e_in1k.py')
SOBEL_CONFIG = osp.join(
    CONFIGS, 'selfsup', 'deepcluster',
    'deepcluster-sobel_resnet50_8xb64-steplr-200e_in1k.py')
SVM_CONFIG = osp.join(CONFIGS, 'benchmarks', 'classification', 'voc07',
                      'svm_resnet50_voc07.py')
SVM_SOBEL_CONFIG = osp.join(CONFIGS, 'benchmarks', 'classification', 'voc07',
                            'svm_resnet50-sobel_voc07.py')
# a memory of 10,000 samples instead of ImageNet's 1.3 GB one (the published
# head keeps its 10,000 clusters, so every cluster may hold one sample)
SMALL_MEMORY = {'model.memory_bank.length': 10000,
                'model.memory_bank.min_cluster': 1}
SMALL_MEMORY_ARGS = [f'{key}={value}' for key, value in SMALL_MEMORY.items()]
# the published ODC checkpoint's neck and head (MMSelfSup 0.x)
ODC_NECK_HEAD = {
    'neck.fc0.weight': (512, 2048),
    'neck.fc0.bias': (512, ),
    'neck.bn0.running_mean': (512, ),
    'neck.bn0.running_var': (512, ),
    'neck.bn0.num_batches_tracked': (),
    'neck.fc1.weight': (256, 512),
    'neck.fc1.bias': (256, ),
    'head.fc_cls.weight': (10000, 256),
    'head.fc_cls.bias': (10000, ),
}
SOBEL_PREFIX = 'backbone.backbone.'


def load_tool(*path: str) -> ModuleType:
    """Import a script of tools/ as a module."""
    spec = importlib.util.spec_from_file_location(
        osp.splitext(path[-1])[0], osp.join(REPO, 'tools', *path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONVERT = load_tool('model_converters', 'convert_checkpoint.py')
EXTRACT = load_tool('model_converters', 'extract_backbone_weights.py')
SVM_TOOL = load_tool('benchmarks', 'svm_voc07.py')


def random_tensor(shape: Sequence[int],
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Random values (integers for integer types) of a shape."""
    if dtype.is_floating_point:
        return torch.randn(shape, dtype=dtype)
    return torch.randint(1, 1000, shape).to(dtype)


def random_like(state: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """A state dict of the same keys, shapes and types, distinct values."""
    return {
        key: random_tensor(value.shape, value.dtype)
        for key, value in state.items()
    }


def build(config: str, options: dict) -> nn.Module:
    """The model of a config, with settings overridden."""
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    init_default_scope('mmodc')
    return MODELS.build(cfg.model)


def assert_holds(module: nn.Module,
                 tensors: Mapping[str, torch.Tensor]) -> None:
    """Every given tensor is the module's tensor of that key."""
    state = module.state_dict()
    for key, tensor in tensors.items():
        assert torch.equal(state[key], tensor), key


def save(path: Path, **checkpoint) -> str:
    """Write a checkpoint of the given fields; its path as a string."""
    torch.save(checkpoint, path)
    return str(path)


@pytest.fixture(scope='module')
def resnet() -> ResNet:
    """A plain MMPretrain ResNet-50: the published backbone's layout."""
    return ResNet(depth=50)


@pytest.fixture(scope='module')
def sobel_resnet() -> ResNet:
    """MMPretrain's ResNet-50 with 2 input channels (behind Sobel)."""
    return ResNet(depth=50, in_channels=2)


@pytest.fixture(scope='module')
def odc_model() -> nn.Module:
    """The ODC ImageNet model (published head size, small memory)."""
    return build(ODC_CONFIG, SMALL_MEMORY)


@pytest.fixture(scope='module')
def sobel_model() -> nn.Module:
    """The DeepCluster Sobel ImageNet model, 100 clusters (a smaller head
    than ImageNet's 10,000: the published file has no head)."""
    return build(SOBEL_CONFIG, {'model.head.num_classes': 100})


@pytest.fixture(scope='module')
def backbone_only(resnet) -> Dict[str, torch.Tensor]:
    """An OpenSelfSup backbone-only ResNet-50 (keys without prefix)."""
    return random_like(resnet.state_dict())


@pytest.fixture(scope='module')
def sobel_backbone_only(sobel_resnet) -> Dict[str, torch.Tensor]:
    """The DeepCluster Sobel release: backbone-only, 2-channel conv1."""
    return random_like(sobel_resnet.state_dict())


@pytest.fixture(scope='module')
def odc_0x(backbone_only) -> Dict[str, torch.Tensor]:
    """The state dict of the published (MMSelfSup 0.x) ODC checkpoint."""
    state = {f'backbone.{key}': value for key, value in backbone_only.items()}
    state.update({
        key: random_tensor(shape, torch.long if key.endswith('tracked')
                           else torch.float32)
        for key, shape in ODC_NECK_HEAD.items()
    })
    return state


@pytest.fixture(scope='module')
def odc_0x_file(odc_0x, tmp_path_factory) -> str:
    return save(tmp_path_factory.mktemp('odc') / 'odc_0x.pth',
                meta=dict(epoch=440, mmselfsup_version='0.7.1'),
                state_dict=odc_0x)


def memory_keys(model: nn.Module) -> List[str]:
    """The keys of an ODC model's memory buffers."""
    return [f'memory_bank.{name}'
            for name, _ in model.memory_bank.named_buffers()]


def test_published_odc_checkpoint(odc_model, odc_0x):
    """Layout 1: everything loads, only the memory is missing."""
    converted = convert_checkpoint(
        dict(state_dict=odc_0x, meta=dict(epoch=440)),
        odc_model.state_dict(), source='odc_0x.pth')
    assert (converted.layout, converted.prefix) == ('mmodc', '')
    assert converted.missing == memory_keys(odc_model)
    assert converted.unexpected == []
    assert set(converted.state_dict) == set(odc_0x)
    odc_model.load_state_dict(converted.state_dict, strict=False)
    assert_holds(odc_model, odc_0x)


def test_1x_extras_are_unexpected(odc_model, odc_0x):
    """A 1.x checkpoint's loss_weight and Sobel layer have no place; its
    memory centroids do."""
    centroids = torch.randn(10000, 256)
    extras = {
        'loss_weight': torch.rand(10000),
        'backbone.sobel_layer.0.weight': torch.randn(1, 3, 1, 1),
    }
    state = dict(odc_0x, **extras)
    state['memory_bank.centroids'] = centroids
    converted = convert_checkpoint(state, odc_model.state_dict())
    assert converted.unexpected == list(extras)
    assert converted.missing == [
        key for key in memory_keys(odc_model)
        if key != 'memory_bank.centroids'
    ]
    assert converted.state_dict['memory_bank.centroids'] is centroids


def test_backbone_only_file(odc_model, backbone_only, tmp_path):
    """Layout 2: under backbone., the rest of the model kept as it was."""
    # values odc_model does not hold yet (earlier tests load backbone_only)
    weights = random_like(backbone_only)
    path = save(tmp_path / 'odc_r50_v1.pth', state_dict=weights,
                author='OpenSelfSup')
    kept = {key: value.clone() for key, value in odc_model.state_dict().items()
            if not key.startswith('backbone.')}
    converted = load_converted_checkpoint(odc_model, path)
    assert (converted.layout, converted.prefix) == ('backbone-only',
                                                    'backbone.')
    assert converted.missing == [
        key for key in ODC_NECK_HEAD if not key.endswith('tracked')
    ] + memory_keys(odc_model)
    assert converted.unexpected == []
    assert_holds(odc_model.backbone, weights)
    assert_holds(odc_model, kept)
    assert 'neck.fc0: weight, bias' in converted.summary()


def test_report_groups_keys(resnet):
    """Hundreds of backbone keys make one report line per module."""
    keys = [f'backbone.{key}' for key in resnet.state_dict()]
    assert group_keys(keys)[:3] == [
        'backbone.conv1: weight', 'backbone.bn1: 5 keys',
        'backbone.layer1: 60 keys'
    ]
    assert len(group_keys(keys)) == 6


def test_sobel_backbone_only_file(sobel_model, sobel_backbone_only):
    """Layout 3: the 2-channel ResNet goes inside the SobelBackbone."""
    converted = convert_checkpoint(
        dict(state_dict=sobel_backbone_only, author='OpenSelfSup'),
        sobel_model.state_dict())
    assert (converted.layout, converted.prefix) == ('backbone-only',
                                                    SOBEL_PREFIX)
    assert converted.missing == [
        'class_weights', 'head.fc_cls.weight', 'head.fc_cls.bias'
    ]
    assert converted.unexpected == []
    sobel_model.load_state_dict(converted.state_dict, strict=False)
    assert_holds(sobel_model.backbone.backbone, sobel_backbone_only)


def test_mmodc_checkpoint_unchanged(odc_model):
    """Layout 4: a training checkpoint (memory included) as it is."""
    state = random_like(odc_model.state_dict())
    converted = convert_checkpoint(
        dict(meta=dict(epoch=3), state_dict=state, optimizer={}),
        odc_model.state_dict())
    assert (converted.layout, converted.prefix) == ('mmodc', '')
    assert (converted.missing, converted.unexpected) == ([], [])
    assert list(converted.state_dict) == list(state)
    assert all(converted.state_dict[key] is value
               for key, value in state.items())


@pytest.mark.parametrize('sobel_checkpoint', [False, True])
def test_input_channels_mismatch(sobel_checkpoint, odc_model, sobel_model,
                                 backbone_only, sobel_backbone_only):
    """RGB weights into the Sobel config and the reverse: an error that
    names the key, both shapes and the config to use."""
    state, model, hint = (
        (sobel_backbone_only, odc_model, 'use the -sobel config')
        if sobel_checkpoint else
        (backbone_only, sobel_model, 'use the config without -sobel'))
    given, expected = (2, 3) if sobel_checkpoint else (3, 2)
    with pytest.raises(CheckpointShapeError) as error:
        convert_checkpoint(state, model.state_dict(), source='r50.pth')
    message = str(error.value)
    for part in ('r50.pth', 'conv1.weight', hint, f'(64, {given}, 7, 7)',
                 f'(64, {expected}, 7, 7)'):
        assert part in message
    assert 'layer1' not in message  # only the first convolution differs


def test_head_size_mismatch(odc_model, odc_0x):
    state = dict(odc_0x)
    state['head.fc_cls.weight'] = torch.randn(100, 256)
    state['head.fc_cls.bias'] = torch.randn(100)
    with pytest.raises(CheckpointShapeError) as error:
        convert_checkpoint(state, odc_model.state_dict(), source='odc.pth')
    message = str(error.value)
    for part in ('odc.pth', 'head.fc_cls.weight', '(100, 256)',
                 '(10000, 256)', 'head.fc_cls.bias',
                 'model.head.num_classes=100',
                 'model.memory_bank.num_classes=100'):
        assert part in message


def test_no_overlap_is_an_error(odc_model):
    with pytest.raises(ValueError, match='vit.pth: none of its 2 keys'):
        convert_checkpoint(
            {'cls_token': torch.zeros(1, 768), 'pos_embed': torch.zeros(1)},
            odc_model.state_dict(), source='vit.pth')


def test_convert_tool(odc_model, odc_0x, odc_0x_file, tmp_path, capsys):
    """The CLI's file loads with MMEngine's load_checkpoint."""
    dst = str(tmp_path / 'out' / 'odc_mmodc.pth')
    CONVERT.main([odc_0x_file, dst, '--config', ODC_CONFIG,
                  '--cfg-options', *SMALL_MEMORY_ARGS])
    out = capsys.readouterr().out
    assert "layout: mmodc (prefix '')" in out
    assert '7 missing keys' in out and 'memory_bank.feature_bank' in out
    checkpoint = load_checkpoint(odc_model, dst, strict=False)
    # odc_model may hold odc_0x already (earlier tests): the file must too
    assert checkpoint['state_dict'].keys() == odc_0x.keys()
    assert_holds(odc_model, odc_0x)
    conversion = checkpoint['meta']['mmodc_conversion']
    assert conversion['source'] == odc_0x_file
    assert (conversion['layout'], conversion['prefix']) == ('mmodc', '')
    assert conversion['missing'] == memory_keys(odc_model)
    assert conversion['unexpected'] == []


def test_convert_tool_refuses_shape_mismatch(odc_0x_file, tmp_path):
    dst = tmp_path / 'odc_100.pth'
    with pytest.raises(SystemExit) as error:
        CONVERT.main([
            odc_0x_file,
            str(dst), '--config', ODC_CONFIG, '--cfg-options',
            *SMALL_MEMORY_ARGS,
            'model.head.num_classes=100', 'model.memory_bank.num_classes=100'
        ])
    assert 'head.fc_cls.weight: checkpoint (10000, 256) vs model (100, 256)' \
        in error.value.code
    assert not dst.exists()


def test_extract_sobel_round_trip(sobel_model, sobel_resnet, tmp_path,
                                  capsys):
    """A Sobel mmodc checkpoint's backbone: both prefixes stripped, loads
    strictly into a 2-channel ResNet, and converts back."""
    state = random_like(sobel_model.state_dict())
    checkpoint = save(tmp_path / 'epoch_200.pth', meta={}, state_dict=state)
    output = str(tmp_path / 'backbone.pth')
    EXTRACT.main([checkpoint, output])
    assert 'in_channels=2' in capsys.readouterr().out
    extracted = torch.load(output)
    assert extracted['meta']['backbone_in_channels'] == 2
    assert extracted['meta']['stripped_prefix'] == SOBEL_PREFIX
    backbone = {
        key[len(SOBEL_PREFIX):]: value
        for key, value in state.items() if key.startswith(SOBEL_PREFIX)
    }
    assert list(extracted['state_dict']) == list(backbone)
    sobel_resnet.load_state_dict(extracted['state_dict'], strict=True)
    assert_holds(sobel_resnet, backbone)
    converted = convert_checkpoint(extracted, sobel_model.state_dict())
    assert converted.prefix == SOBEL_PREFIX
    assert converted.state_dict.keys() == {
        key for key in state if key.startswith(SOBEL_PREFIX)}
    for key, value in converted.state_dict.items():
        assert torch.equal(value, state[key]), key


def test_extract_refuses_checkpoint_without_backbone(tmp_path):
    checkpoint = save(tmp_path / 'head.pth',
                      state_dict={'fc_cls.weight': torch.zeros(2, 2)})
    with pytest.raises(SystemExit) as error:
        EXTRACT.main([checkpoint, str(tmp_path / 'out.pth')])
    assert checkpoint in error.value.code
    assert 'fc_cls.weight' in error.value.code


def svm_model(config: str, checkpoint: str) -> nn.Module:
    """The SVM benchmark's model, built as tools/benchmarks/svm_voc07.py
    does (strict Pretrained, prefix from the checkpoint's keys)."""
    cfg = Config.fromfile(config)
    init_default_scope('mmodc')
    return SVM_TOOL.build_model(
        cfg, argparse.Namespace(seed=0, checkpoint=checkpoint))


def test_extracted_backbone_in_benchmark(odc_0x_file, backbone_only, resnet,
                                         tmp_path):
    """The published ODC checkpoint's extracted backbone: a plain ResNet's
    weights, which the RGB SVM benchmark loads (strictly, no prefix)."""
    output = str(tmp_path / 'odc_backbone.pth')
    EXTRACT.main([odc_0x_file, output])
    extracted = torch.load(output)['state_dict']
    resnet.load_state_dict(extracted, strict=True)
    assert_holds(resnet, backbone_only)
    assert_holds(svm_model(SVM_CONFIG, output).backbone, backbone_only)


def test_sobel_backbone_in_benchmark(sobel_backbone_only, backbone_only,
                                     tmp_path):
    """The published Sobel backbone-only file loads into the -sobel SVM
    benchmark as it is (strict Pretrained puts it inside SobelBackbone);
    an RGB file there is refused with the key, both shapes and the fix."""
    published = save(tmp_path / 'deepcluster_r50.pth',
                     state_dict=sobel_backbone_only, author='OpenSelfSup')
    model = svm_model(SVM_SOBEL_CONFIG, published)
    assert_holds(model.backbone.backbone, sobel_backbone_only)
    rgb = save(tmp_path / 'odc_r50.pth', state_dict=backbone_only)
    with pytest.raises(CheckpointShapeError,
                       match=r'conv1\.weight .*\(64, 3, 7, 7\) vs model '
                       r'\(64, 2, 7, 7\).*without -sobel'):
        svm_model(SVM_SOBEL_CONFIG, rgb)
