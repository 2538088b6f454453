"""tools/analysis/validation_scores.py: a finished run's checkpoint scored
on the monitor's validation split, with several k-means seeds."""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
from conftest import REPO, shrink_config
from mmengine.config import Config
from mmengine.runner import Runner

import mmodc  # noqa: F401
from mmodc.analysis.validation_scores import (
    monitor_hook,
    summarize_settings,
    validation_scores,
    work_dir_run,
)

TOOL = osp.join(REPO, 'tools', 'analysis', 'validation_scores.py')


@pytest.fixture(scope='module')
def finished_run(quickstart_cfg, tmp_path_factory):
    """A tiny monitored ODC run, trained by a real Runner: its work dir."""
    work_dir = str(tmp_path_factory.mktemp('runs') / 'tiny')
    cfg = shrink_config(quickstart_cfg, num_images=300, num_clusters=10,
                        batch_size=50, work_dir=work_dir)
    cfg.train_cfg.max_epochs = 2
    Runner.from_cfg(cfg).train()
    return work_dir


def _last_record(work_dir):
    with open(osp.join(work_dir, 'monitor_curves.json')) as stream:
        return json.load(stream)[-1]


def test_one_kmeans_seed_gives_the_monitors_last_scores(finished_run):
    run = work_dir_run(finished_run)
    assert run['checkpoint'] == osp.join(finished_run, 'epoch_2.pth')
    scores = validation_scores(Config.fromfile(run['config']),
                               run['checkpoint'], kmeans_seeds=(0, ))
    last = _last_record(finished_run)
    assert last['epoch'] == 2
    for key in ('knn_top1', 'nmi', 'acc', 'ari'):
        assert scores[key] == pytest.approx(last[f'backbone/{key}']), key


def test_several_kmeans_seeds_are_averaged(finished_run):
    run = work_dir_run(finished_run)
    cfg = Config.fromfile(run['config'])
    each = [validation_scores(cfg, run['checkpoint'], kmeans_seeds=(seed, ))
            for seed in (0, 1, 2)]
    together = validation_scores(cfg, run['checkpoint'],
                                 kmeans_seeds=(0, 1, 2))
    assert together['nmi'] == pytest.approx(
        sum(one['nmi'] for one in each) / 3)
    # kNN does not depend on the k-means seeds
    assert together['knn_top1'] == each[0]['knn_top1']
    assert len({one['nmi'] for one in each}) > 1  # the seeds differ


def test_runs_of_one_setting_are_averaged_over_training_seeds():
    runs = {
        'row': dict(knn_top1=0.8, nmi=0.6, acc=0.5, ari=0.4, nmi_std=0.02),
        'row-seed1': dict(knn_top1=0.9, nmi=0.7, acc=0.7, ari=0.4,
                          nmi_std=0.04),
        'other': dict(knn_top1=0.5, nmi=0.5, acc=0.5, ari=0.5, nmi_std=0.),
    }
    rows = {row['setting']: row for row in summarize_settings(runs)}
    assert rows['row']['seeds'] == 2 and rows['other']['seeds'] == 1
    assert rows['row']['nmi'] == pytest.approx(0.65)
    assert rows['row']['knn_top1_std'] == pytest.approx(0.05)
    assert rows['row']['nmi_kmeans_std'] == pytest.approx(0.03)


def _tool(*args):
    return subprocess.run([sys.executable, TOOL, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_the_tool_prints_and_writes_the_table(finished_run, tmp_path):
    # the same run twice as two seeds of one setting: level, zero spread
    for name in ('row', 'row-seed1'):
        os.symlink(finished_run, tmp_path / name)
    out = tmp_path / 'table' / 'validation.md'
    result = _tool(str(tmp_path / 'row'), str(tmp_path / 'row-seed1'),
                   '--kmeans-seeds', '2', '--out', str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert out.read_text().strip().splitlines() == lines
    assert '(2 k-means seeds)' in lines[0]
    assert len(lines) == 3 and lines[2].startswith('| row | 2 | ')
    knn = float(lines[2].split('|')[3].split('±')[0])
    assert knn == pytest.approx(_last_record(finished_run)
                                ['backbone/knn_top1'], abs=1e-4)
    assert lines[2].split('|')[3].split('±')[1].strip() == '0.0000'


def test_a_work_dir_without_a_checkpoint_is_named(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError,
                       match=re.escape(f'{tmp_path / "empty"}: expected '
                                       'one config dump (*.py) and a '
                                       'last_checkpoint file')):
        work_dir_run(str(tmp_path / 'empty'))
    with pytest.raises(FileNotFoundError, match='no such work dir'):
        work_dir_run(str(tmp_path / 'nowhere'))


def test_a_config_without_the_monitor_is_an_error(quickstart_cfg):
    cfg = quickstart_cfg.copy()
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h.type != 'FeatureMonitorHook']
    with pytest.raises(KeyError, match='no FeatureMonitorHook'):
        monitor_hook(cfg)
