"""tools/benchmarks/knn.py end to end: a model with known features on an
image folder (exact accuracy), the untrained ODC network on a Fashion-MNIST
subset, two processes, and the usage errors."""
import copy
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
import torch
from knn_colour_model import KnnColourModel, grey_level
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image
from tiny_setup import free_port

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(REPO, 'tools', 'benchmarks', 'knn.py')
KNN_FASHION_MNIST = osp.join(REPO, 'configs', 'benchmarks',
                             'classification', 'knn_fashionmnist.py')
NUM_CLASSES = 8
PAINTED_CLASS, PAINTED_AS = 3, 1  # its queries look like another class


def load_tool():
    """The tool as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location('knn_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_images(folder: Path, per_class: int, painted: bool) -> None:
    """``per_class`` grey PNGs per class folder ``c0`` .. ``c7``; with
    ``painted`` the images of PAINTED_CLASS have PAINTED_AS's grey."""
    for label in range(NUM_CLASSES):
        shown = PAINTED_AS if painted and label == PAINTED_CLASS else label
        (folder / f'c{label}').mkdir(parents=True)
        for i in range(per_class):
            Image.new('RGB', (4, 4), (grey_level(shown), ) * 3).save(
                folder / f'c{label}' / f'{i}.png')


def loader(folder: Path, pipeline: List[dict]) -> dict:
    return dict(
        batch_size=16,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(
            type='CustomDataset', data_prefix=str(folder),
            pipeline=pipeline))


@pytest.fixture
def colour_setup(tmp_path: Path) -> dict:
    """Config, checkpoint (identity codes) and image folders: 30 reference
    and 5 query images per class, the queries of one class painted as
    another. The training pipeline inverts the images: the tool must not
    use it (inverted reference images would give accuracy 0)."""
    write_images(tmp_path / 'train', 30, painted=False)
    write_images(tmp_path / 'val', 5, painted=True)
    val_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    cfg = Config(
        dict(
            default_scope='mmodc',
            custom_imports=dict(imports=['knn_colour_model']),
            model=dict(type='KnnColourModel', num_classes=NUM_CLASSES),
            train_dataloader=loader(
                tmp_path / 'train',
                [val_pipeline[0],
                 dict(type='Invert', prob=1.), val_pipeline[1]]),
            val_dataloader=loader(tmp_path / 'val', val_pipeline)))
    config = str(tmp_path / 'colour_knn.py')
    cfg.dump(config)
    init_default_scope('mmodc')
    model = KnnColourModel(NUM_CLASSES)
    model.codes.copy_(torch.eye(NUM_CLASSES))
    checkpoint = str(tmp_path / 'codes.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    return dict(config=config, checkpoint=checkpoint, out=tmp_path / 'out')


def test_known_features_give_exact_accuracy(colour_setup: dict) -> None:
    out = colour_setup['out'] / 'knn.json'
    result = load_tool().main([
        colour_setup['config'], colour_setup['checkpoint'], '--out',
        str(out)
    ])
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(result))
    assert list(saved['knn']) == ['10', '20', '100', '200']
    assert (saved['num_train'], saved['num_val'],
            saved['feature_dim']) == (240, 40, NUM_CLASSES)
    # every query but the 5 painted ones finds its own class: 35 / 40
    for row in saved['knn'].values():
        assert row['top1'] == pytest.approx(35 / 40)
        assert row['top5'] >= row['top1']


def test_majority_vote(colour_setup: dict) -> None:
    result = load_tool().main([
        colour_setup['config'], colour_setup['checkpoint'], '--majority',
        '--k', '20', '100'
    ])
    assert result['temperature'] is None
    # 20 neighbours: all of the query's own class, as with weighted votes
    assert result['knn']['20']['top1'] == pytest.approx(35 / 40)
    # 100: 30 own-class votes against 70 of other classes, which weighted
    # votes (exp(1 / 0.07) against exp(0)) outweigh but a majority does not
    assert result['knn']['100']['top1'] < 35 / 40


def test_without_checkpoint_the_codes_are_untrained(
        colour_setup: dict) -> None:
    result = load_tool().main([colour_setup['config'], '--no-checkpoint',
                               '--k', '10', '20'])
    # all-zero features: no query is told apart, unlike the 35 / 40 above
    assert result['checkpoint'] is None
    assert list(result['knn']) == ['10', '20']
    assert all(row['top1'] < 35 / 40 for row in result['knn'].values())


def test_untrained_odc_network_on_fashion_mnist(quickstart_cfg,
                                                tmp_path: Path) -> None:
    out = tmp_path / 'knn.json'
    command = [
        sys.executable, TOOL, quickstart_cfg.filename, '--no-checkpoint',
        '--dataset-config', KNN_FASHION_MNIST, '--num-train', '400',
        '--num-val', '100', '--out',
        str(out)
    ]
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    saved = json.loads(out.read_text())
    assert list(saved['knn']) == ['10', '20', '100', '200']
    assert (saved['num_train'], saved['num_val'],
            saved['feature_dim']) == (400, 100, 128)
    assert '| 200 |' in result.stdout
    for row in saved['knn'].values():
        # 10 classes: chance is 0.1; random conv features (BatchNorm
        # statistics of the reference images) do far better
        assert 0.3 < row['top1'] <= row['top5'] <= 1


@pytest.mark.slow
def test_two_processes_give_the_one_process_result(
        colour_setup: dict) -> None:
    out = colour_setup['out'] / 'two.json'
    command = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
        f'--master_port={free_port()}', TOOL, colour_setup['config'],
        colour_setup['checkpoint'], '--launcher', 'pytorch', '--out',
        str(out)
    ]
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([REPO, osp.join(REPO, 'tests')]),
        CUDA_VISIBLE_DEVICES='',
        OMP_NUM_THREADS='1')
    result = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True,
        timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'uses the gloo backend instead of nccl' in (result.stdout +
                                                        result.stderr)
    two = json.loads(out.read_text())
    one = load_tool().main(
        [colour_setup['config'], colour_setup['checkpoint']])
    assert (two['num_train'], two['num_val']) == (240, 40)
    assert two['knn'] == json.loads(json.dumps(one['knn']))


@pytest.mark.parametrize('extra, message', [
    ([], 'give a CHECKPOINT or --no-checkpoint'),
    (['--no-checkpoint', '--num-train', '241'],
     '--num-train 241: the train set has only 240 samples'),
    (['--no-checkpoint', '--dataset-cfg-options', 'val_dataloader=None'],
     'has no val_dataloader with a dataset; give --dataset-config'),
])
def test_usage_errors(colour_setup: dict, capsys, extra: List[str],
                      message: str) -> None:
    with pytest.raises(SystemExit) as error:
        load_tool().main([colour_setup['config']] + extra)
    assert error.value.code == 2
    assert message in capsys.readouterr().err


def test_k_larger_than_reference_set(colour_setup: dict) -> None:
    with pytest.raises(ValueError, match='k=300 is more than the 240'):
        load_tool().main(
            [colour_setup['config'], '--no-checkpoint', '--k', '10', '300'])


def test_feature_kinds(quickstart_cfg) -> None:
    from mmodc.analysis.knn_benchmark import FEATURE_FORWARDS
    from mmodc.registry import MODELS

    init_default_scope('mmodc')
    cfg = copy.deepcopy(quickstart_cfg.model)
    cfg.memory_bank.update(length=40, num_classes=2, min_cluster=5)
    cfg.head.num_classes = 2
    odc = MODELS.build(cfg).eval()
    classifier = MODELS.build(
        dict(type='ImageClassifier', backbone=cfg.backbone)).eval()
    data = dict(inputs=torch.rand(8, 1, 28, 28))
    with torch.no_grad():
        last_stage = odc.backbone(data['inputs'])[-1]
        torch.testing.assert_close(FEATURE_FORWARDS['model'](odc, data),
                                   odc.extract_feat(data['inputs']))
        torch.testing.assert_close(FEATURE_FORWARDS['backbone'](odc, data),
                                   last_stage.mean(dim=(2, 3)))
        # a classifier's extract_feat gives a tuple of spatial maps: pooled
        torch.testing.assert_close(
            FEATURE_FORWARDS['model'](classifier, data),
            classifier.backbone(data['inputs'])[-1].mean(dim=(2, 3)))
