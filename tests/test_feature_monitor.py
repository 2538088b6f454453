"""FeatureMonitorHook in a real Runner on a Fashion-MNIST subset."""
import json
import os.path as osp

import pytest
import torch
from conftest import shrink_config
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image
from sklearn.metrics import normalized_mutual_info_score
from test_deepcluster import DEEPCLUSTER_FMNIST
from tiny_setup import make_image_folder

import mmodc  # noqa: F401
from mmodc.analysis.algorithm_comparison import final_pseudo_labels
from mmodc.analysis.curve_plots import (
    load_monitor_records,
    plot_training_curves,
)
from mmodc.engine.extractor import (
    default_forward,
    extract_features,
    pooled_backbone,
)
from mmodc.engine.hooks import FeatureMonitorHook
from mmodc.evaluation import evaluate_features


def _tiny(quickstart_cfg, work_dir, monitor=True):
    cfg = shrink_config(quickstart_cfg, num_images=300, num_clusters=10,
                        batch_size=50, work_dir=str(work_dir))
    cfg.train_cfg.max_epochs = 2
    if not monitor:
        cfg.custom_hooks = [h for h in cfg.custom_hooks
                            if h.type != 'FeatureMonitorHook']
    return cfg


def _train(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_monitor_does_not_change_training(quickstart_cfg, tmp_path):
    with_monitor = _train(_tiny(quickstart_cfg, tmp_path / 'with'))
    without = _train(_tiny(quickstart_cfg, tmp_path / 'without', False))
    state_a = with_monitor.model.state_dict()
    state_b = without.model.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
    curves = json.load(open(osp.join(tmp_path / 'with',
                                     'monitor_curves.json')))
    assert [r['epoch'] for r in curves] == [0, 1, 2]
    assert [r['iter'] for r in curves] == [0, 6, 12]
    assert 'train_loss' in curves[1] and 'train_change_ratio' in curves[1]
    assert all(0 < r['backbone/knn_top1'] <= 1 for r in curves)
    assert 'pseudo_label_nmi' in curves[0]
    clock = [r['train_seconds'] for r in curves]
    assert clock == sorted(clock) and clock[0] > 0
    # the checkpoint carries the same records; the plot draws one point
    # per monitored epoch
    saved = load_monitor_records(str(tmp_path / 'with' / 'epoch_2.pth'))
    assert [r['backbone/nmi'] for r in saved] == pytest.approx(
        [r['backbone/nmi'] for r in curves])
    drawn = plot_training_curves(
        dict(ODC=load_monitor_records(str(tmp_path / 'with'))),
        str(tmp_path / 'curves.png'))
    assert (tmp_path / 'curves.png').stat().st_size > 0
    knn = drawn['kNN top-1 (validation)']['ODC']
    assert knn[:, 0].tolist() == [0, 1, 2]
    assert knn[:, 1].tolist() == pytest.approx(
        [r['backbone/knn_top1'] for r in curves])
    # no change ratio is measured before training: two points
    assert len(drawn['label change ratio']['ODC']) == 2


def _monitor(runner):
    return next(h for h in runner.hooks
                if isinstance(h, FeatureMonitorHook))


@pytest.mark.parametrize('config', [None, DEEPCLUSTER_FMNIST])
def test_monitor_scores_equal_direct_evaluation(quickstart_cfg, tmp_path,
                                                config):
    base = quickstart_cfg if config is None else Config.fromfile(config)
    cfg = _tiny(base, tmp_path)
    next(h for h in cfg.custom_hooks
         if h.type == 'FeatureMonitorHook').features = ('backbone', 'neck')
    runner = _train(cfg)
    hook = _monitor(runner)
    last = hook.records[-1]
    # the monitor's features against the extractor's forwards
    for name, forward in (('backbone', pooled_backbone),
                          ('neck', default_forward)):
        feats = {
            role: extract_features(runner.model, loader, forward=forward,
                                   show_progress=False)
            for role, loader in hook.loaders.items()
        }
        direct = evaluate_features(feats['bank'], hook.labels['bank'],
                                   feats['query'], hook.labels['query'],
                                   num_clusters=10)
        assert last[f'{name}/knn_top1'] == pytest.approx(direct['knn_top1'])
        assert last[f'{name}/nmi'] == pytest.approx(direct['nmi'])
    gt = runner.train_dataloader.dataset.dataset.get_gt_labels() \
        if config else runner.train_dataloader.dataset.get_gt_labels()
    expected = normalized_mutual_info_score(gt, final_pseudo_labels(runner))
    assert last['pseudo_label_nmi'] == pytest.approx(expected, abs=1e-6)


def test_unlabelled_monitoring_set_is_an_error(quickstart_cfg, tmp_path):
    cfg = _tiny(quickstart_cfg, tmp_path)
    hook = next(h for h in cfg.custom_hooks
                if h.type == 'FeatureMonitorHook')
    folder = make_image_folder(tmp_path / 'images')
    hook.query_dataloader.dataset = dict(
        type='CustomDataset', data_root=str(folder), with_label=False,
        pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
    with pytest.raises(ValueError,
                       match='monitoring query set .CustomDataset. has no '
                       'class labels'):
        _train(cfg)


@pytest.mark.parametrize('index_range', [(5, 3), (0, 60001), (-1, 10)])
def test_fashion_mnist_index_range_errors(quickstart_cfg, index_range):
    from mmodc.datasets import FashionMNIST
    with pytest.raises(ValueError, match=r'index_range=\(' +
                       f'{index_range[0]}, {index_range[1]}' + r'\)'):
        FashionMNIST(split='train', index_range=index_range)
    subset = FashionMNIST(split='train', index_range=(100, 110),
                          with_label=True)
    full = FashionMNIST(split='train')
    assert len(subset) == 10
    assert (subset[0]['img'] == full[100]['img']).all()
    assert subset[0]['sample_idx'] == 0
    assert (subset.get_gt_labels() == full.get_gt_labels()[100:110]).all()


def test_curves_of_many_runs_draw_every_run(tmp_path):
    """More runs than the colour cycle has colours (12 against 10): every
    run is drawn (colours repeat) and the figure grows a legend row below
    the panels instead of covering them."""
    runs = {
        f'run{index}': [
            dict(epoch=epoch, train_seconds=10. * epoch,
                 **{'backbone/knn_top1': 0.5 + 0.01 * index + 0.02 * epoch,
                    'backbone/nmi': 0.2 + 0.03 * epoch,
                    'pseudo_label_nmi': 0.1 + 0.03 * epoch})
            for epoch in range(3)
        ] for index in range(12)
    }
    few = plot_training_curves(dict(list(runs.items())[:2]),
                               str(tmp_path / 'few.png'))
    many = plot_training_curves(runs, str(tmp_path / 'many.png'))
    knn = many['kNN top-1 (validation)']
    assert sorted(knn) == sorted(runs)
    assert knn['run11'][:, 1].tolist() == pytest.approx(
        [r['backbone/knn_top1'] for r in runs['run11']])
    assert len(few['kNN top-1 (validation)']) == 2
    heights = [Image.open(tmp_path / name).size[1]
               for name in ('few.png', 'many.png')]
    assert heights[1] > heights[0]
