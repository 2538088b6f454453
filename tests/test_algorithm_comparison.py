"""The ODC vs DeepCluster comparison: both trained alike, one table."""
import importlib.util
import json
import os.path as osp
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import FASHION_MNIST, QUICKSTART, REPO, shrink_config
from mmengine.config import Config
from test_deepcluster import DEEPCLUSTER_FMNIST

from mmodc.analysis.algorithm_comparison import (
    AlgorithmComparison,
    Stopwatch,
    train_timed,
)
from mmodc.analysis.comparison_summary import (
    records_at_equal_time,
    summarise_seeds,
)
from mmodc.datasets import FashionMNIST
from mmodc.engine.hooks import DeepClusterHook
from mmodc.evaluation import normalized_mutual_info


def test_stopwatch_adds_the_time_of_each_call():

    class Worker:

        def work(self, value):
            sum(range(200000))
            return value * 2

    worker, watch = Worker(), Stopwatch()
    watch.wrap(worker, 'work', 'busy')
    assert worker.work(3) == 6
    once = watch.seconds['busy']
    assert once > 0
    worker.work(1)
    assert watch.seconds['busy'] > once
    assert Worker().work(1) == 2 and list(watch.seconds) == ['busy']


def tiny(config: str, tmp_path) -> Config:
    cfg = shrink_config(Config.fromfile(config), num_images=240,
                        num_clusters=6, batch_size=40,
                        work_dir=str(tmp_path / 'unused'))
    cfg.train_cfg.max_epochs = 2
    cfg.log_level = 'WARNING'
    for hook in cfg.custom_hooks:
        if hook.type == 'DeepClusterHook' and hook.clustering.pca_dim > 0:
            hook.clustering.pca_dim = 16
    return cfg


def test_comparison_trains_and_scores_both(tmp_path):
    comparison = AlgorithmComparison(
        dict(ODC=tiny(QUICKSTART, tmp_path),
             DeepCluster=tiny(DEEPCLUSTER_FMNIST, tmp_path)),
        str(tmp_path / 'cmp'), kmeans_seeds=(0, ), knn_k=5)
    text = comparison.run()
    odc, deepcluster = comparison.rows['ODC'], comparison.rows['DeepCluster']
    assert '| ODC | ' in text and '| DeepCluster | ' in text
    saved = json.loads((tmp_path / 'cmp' / 'comparison.json').read_text())
    assert saved['rows']['ODC']['knn_top1'] == pytest.approx(
        odc['knn_top1'])
    # both monitored on the same validation images, one point per epoch,
    # drawn on the same axes by epoch and by wall time
    for name, records in saved['curves'].items():
        assert [r['epoch'] for r in records] == [0, 1, 2], name
        assert comparison.rows[name]['monitor_seconds'] == pytest.approx(
            sum(r['seconds'] for r in records), rel=0.05, abs=0.05)
    for png in ('training_curves.png', 'training_curves_time.png'):
        assert (tmp_path / 'cmp' / png).stat().st_size > 0
        assert f'({png})' in text
    # the pseudo-labels scored are those the last epoch trained on
    last = np.load(tmp_path / 'cmp' / 'DeepCluster' / 'cluster_epoch_1.npy')
    classes = FashionMNIST(data_root=FASHION_MNIST,
                           indices=240).get_gt_labels()
    assert deepcluster['pseudo_label_nmi'] == pytest.approx(
        normalized_mutual_info(classes, last))
    for row in (odc, deepcluster):
        assert row['epochs'] == 2
        assert 0 <= row['kmeans_nmi'] <= 1 and 0 < row['knn_top1'] <= 1
        assert row['training_seconds_per_epoch'] > 0
    # ODC clusters once up front; DeepCluster before each of its 2 epochs
    assert odc['initial_clustering_seconds'] > 0
    assert deepcluster['initial_clustering_seconds'] == 0
    assert deepcluster['clustering_seconds_per_epoch'] > 0


def test_odc_clustering_time_counts_its_reclusterings(tmp_path, monkeypatch):
    """An ODC config that re-clusters its memory after every epoch
    (``ODCHook(recluster_interval=1)``): that is ODC clustering work,
    counted in its clustering seconds per epoch (here a re-clustering made
    0.4 s slower)."""
    from mmodc.models.memories.odc_memory import ODCMemory
    recluster = ODCMemory.recluster

    def slow_recluster(memory, *args, **kwargs):
        time.sleep(0.4)
        return recluster(memory, *args, **kwargs)

    monkeypatch.setattr(ODCMemory, 'recluster', slow_recluster)
    cfg = tiny(QUICKSTART, tmp_path)
    cfg.custom_hooks[0].interval = 10**10
    cfg.custom_hooks[1].recluster_interval = 1
    run = train_timed(cfg)
    assert run['epochs'] == 2
    assert run['clustering_seconds_per_epoch'] >= 0.4
    assert run['training_seconds_per_epoch'] > 0


def test_odc_clustering_time_counts_its_extractions_after_the_first(
        tmp_path):
    """An ODC config whose DeepClusterHook re-extracts and re-clusters
    after every epoch (``interval=1``, the quickstart's): those clusterings
    are clustering work per epoch, the first one stays the one-off."""
    cfg = tiny(QUICKSTART, tmp_path)
    cluster_hook = cfg.custom_hooks[0]
    cluster_hook.interval = 1
    odc_hook = cfg.custom_hooks[1]
    odc_hook.update(recluster_interval=None, recluster_pca_dim=-1)
    run = train_timed(cfg)
    clusterings = next(hook for hook in run['runner'].hooks if isinstance(
        hook, DeepClusterHook)).clustering_seconds
    assert len(clusterings) == 2  # before epoch 1 and after it (not after 2)
    assert run['initial_clustering_seconds'] == clusterings[0]
    assert run['clustering_seconds_per_epoch'] >= clusterings[1] / 2


def test_command_line_rejects_a_missing_config(tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/analysis/compare_odc_deepcluster.py',
         '--odc-config', str(tmp_path / 'nope.py'),
         '--work-dir', str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert f'config {tmp_path / "nope.py"} not found' in result.stderr


def compare_tool():
    spec = importlib.util.spec_from_file_location(
        'compare_tool',
        osp.join(REPO, 'tools', 'analysis', 'compare_odc_deepcluster.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_command_line_seed_sets_both_training_seeds():
    tool = compare_tool()
    configs = [Config.fromfile(QUICKSTART),
               Config.fromfile(DEEPCLUSTER_FMNIST)]
    tool.set_training_seed(configs, 3)
    for cfg in configs:
        assert cfg.randomness == dict(seed=3, deterministic=False)


def monitor_records(seconds, knn, nmi):
    return [{'epoch': epoch, 'train_seconds': s, 'backbone/knn_top1': k,
             'backbone/nmi': n}
            for epoch, (s, k, n) in enumerate(zip(seconds, knn, nmi))]


def test_equal_time_takes_each_runs_last_record_within_the_fastest_run():
    curves = dict(
        fast=monitor_records([0, 10, 20, 30], [.1, .2, .3, .4], [0] * 4),
        slow=monitor_records([0, 14, 29, 31, 45], [.1, .5, .6, .7, .8],
                             [0] * 5))
    picked = records_at_equal_time(curves)
    assert picked['fast']['epoch'] == 3  # its own end: 30 s
    assert picked['slow']['epoch'] == 2  # 29 s <= 30 s < 31 s
    with pytest.raises(ValueError, match=r"\['slow'\].*FeatureMonitorHook"):
        records_at_equal_time(dict(fast=curves['fast'], slow=[]))


def saved_comparison(knn_odc, knn_dc):
    scores = dict(pseudo_label_nmi=.5, kmeans_nmi=.6, kmeans_acc=.6)
    return dict(
        rows=dict(ODC=dict(scores, knn_top1=knn_odc, train_seconds=100.),
                  DeepCluster=dict(scores, knn_top1=knn_dc,
                                   train_seconds=140.)),
        curves=dict(
            ODC=monitor_records([0, 50, 100], [.1, .7, knn_odc - .02],
                                [.1, .4, .5]),
            DeepCluster=monitor_records([0, 70, 140], [.1, .6, .8],
                                        [.1, .45, .6])))


def save_seed(work_dir, seed, comparison, lr=None):
    """A seed's saved comparison and the record of the default configs
    it trained (with ``lr`` for ODC's, if given)."""
    tool = compare_tool()
    configs = dict(ODC=Config.fromfile(QUICKSTART),
                   DeepCluster=Config.fromfile(DEEPCLUSTER_FMNIST))
    tool.set_training_seed(configs.values(), seed)
    if lr is not None:
        configs['ODC'].optim_wrapper.optimizer.lr = lr
    seed_dir = work_dir / f'seed_{seed}'
    seed_dir.mkdir()
    (seed_dir / 'comparison.json').write_text(json.dumps(comparison))
    (seed_dir / 'trained_configs.json').write_text(
        json.dumps(tool.config_record(configs)))
    return seed_dir


def run_seeds(work_dir, *seeds):
    return subprocess.run(
        [sys.executable, 'tools/analysis/compare_odc_deepcluster.py',
         '--work-dir', str(work_dir), '--seeds', *map(str, seeds)],
        cwd=REPO, capture_output=True, text=True, timeout=300)


def test_command_line_seeds_summarises_the_saved_comparisons(tmp_path):
    for seed, knn in ((0, (.80, .78)), (1, (.84, .76))):
        save_seed(tmp_path, seed, saved_comparison(*knn))
    result = run_seeds(tmp_path, 0, 1)
    assert result.returncode == 0, result.stderr
    assert 'seed 1: ' in result.stderr and 'not trained again' in result.stderr
    summary = json.loads((tmp_path / 'comparison_seeds.json').read_text())
    assert summary['ODC']['knn_top1'] == pytest.approx([.82, .02])
    assert summary['DeepCluster']['knn_top1'] == pytest.approx([.77, .01])
    # at ODC's 100 s DeepCluster has trained through its 70 s record
    assert summary['DeepCluster']['equal_time/epoch'] == [1, 0]
    assert summary['DeepCluster']['equal_time/backbone/knn_top1'] == \
        pytest.approx([.6, 0])
    assert summary['ODC']['equal_time/backbone/knn_top1'] == pytest.approx(
        [.80, .02])
    table = (tmp_path / 'comparison_seeds.md').read_text()
    assert '| ODC | 0.5000 ± 0.0000 | 0.6000 ± 0.0000 | 0.6000 ± 0.0000 | '\
        '0.8200 ± 0.0200 |' in table
    assert table in result.stdout


def test_a_saved_seed_of_other_configs_is_not_reused(tmp_path):
    seed_dir = save_seed(tmp_path, 0, saved_comparison(.8, .7), lr=0.5)
    result = run_seeds(tmp_path, 0)
    assert result.returncode == 1
    assert f'{seed_dir} was trained with other configs' in result.stderr
    assert 'ODC.optim_wrapper.optimizer.lr' in result.stderr
    assert 'DeepCluster' not in result.stderr.split('differing:')[1]
    assert not (tmp_path / 'comparison_seeds.json').exists()
    # nor one that does not say which configs it trained
    (seed_dir / 'trained_configs.json').unlink()
    result = run_seeds(tmp_path, 0)
    assert result.returncode == 1
    assert 'no trained_configs.json' in result.stderr
    assert f'delete {seed_dir}' in result.stderr


def test_config_records_differ_by_the_changed_keys():
    tool = compare_tool()
    configs = dict(ODC=Config.fromfile(QUICKSTART))
    record = tool.config_record(configs)
    assert tool.changed_keys(record, tool.config_record(configs)) == []
    configs['ODC'].model.memory_bank.momentum = 0.9
    configs['ODC'].new_key = 1
    assert tool.changed_keys(record, tool.config_record(configs)) == [
        'ODC.model.memory_bank.momentum', 'ODC.new_key']


def test_seed_summary_refuses_different_algorithms():
    other = saved_comparison(.8, .7)
    other['rows'].pop('DeepCluster')
    with pytest.raises(ValueError, match='different algorithms'):
        summarise_seeds({0: saved_comparison(.8, .7), 1: other})
