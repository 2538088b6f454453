"""FeatureMonitorHook in a real Runner on a Fashion-MNIST subset."""
import json
import os.path as osp

import pytest
import torch
from conftest import shrink_config
from mmengine.runner import Runner
from tiny_setup import make_image_folder

import mmodc  # noqa: F401
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


def test_monitor_scores_equal_direct_evaluation(quickstart_cfg, tmp_path):
    cfg = _tiny(quickstart_cfg, tmp_path)
    runner = _train(cfg)
    hook = next(h for h in runner.hooks
                if type(h).__name__ == 'FeatureMonitorHook')
    last = hook.records[-1]
    from mmodc.engine.extractor import extract_features, pooled_backbone
    feats = {role: extract_features(runner.model, loader,
                                    forward=pooled_backbone,
                                    show_progress=False)
             for role, loader in hook.loaders.items()}
    direct = evaluate_features(feats['bank'], hook.labels['bank'],
                               feats['query'], hook.labels['query'],
                               num_clusters=10)
    assert last['backbone/knn_top1'] == pytest.approx(direct['knn_top1'])
    assert last['backbone/nmi'] == pytest.approx(direct['nmi'])
    gt = runner.train_dataloader.dataset.get_gt_labels()
    from sklearn.metrics import normalized_mutual_info_score
    expected = normalized_mutual_info_score(
        gt, runner.model.memory_bank.label_bank.numpy())
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
