"""Summaries of monitored runs: seeds grouped, mean and spread, the
command-line table."""
import json
import subprocess
import sys

import pytest
from conftest import REPO

from mmodc.analysis.monitor_summary import (
    group_by_setting,
    summarize_runs,
    summary_table,
)


def records(knn: float, nmi: float, epochs: int = 2) -> list:
    return [dict(epoch=e, iter=10 * e, train_seconds=5. * e,
                 **{'backbone/knn_top1': knn * e / epochs,
                    'backbone/nmi': nmi}) for e in range(epochs + 1)]


def test_seeds_are_grouped_and_averaged():
    assert group_by_setting(['a-seed0', 'b', 'a-seed1', 'a_seed2']) == {
        'a': ['a-seed0', 'a-seed1', 'a_seed2'], 'b': ['b']}
    rows = summarize_runs({'k10-seed0': records(0.8, 0.5),
                           'k10-seed1': records(0.6, 0.7),
                           'k30': records(0.9, 0.6, epochs=3)})
    k10, k30 = rows
    assert (k10['setting'], k10['seeds'], k10['epochs']) == ('k10', 2, [2])
    # the final records only
    assert k10['backbone/knn_top1'] == pytest.approx(0.7)
    assert k10['backbone/knn_top1_std'] == pytest.approx(0.1)
    assert k10['backbone/nmi'] == pytest.approx(0.6)
    assert 'pseudo_label_nmi' not in k10
    assert k30['train_seconds'] == 15.
    table = summary_table(rows)
    assert '| k10 | 2 | 2 | 0.7000 ± 0.1000 | 0.6000 ± 0.1000 |' in table
    assert '| k30 | 1 | 3 | 0.9000 | 0.6000 | - | - | 15 |' in table


def test_command_line_writes_table_and_curves(tmp_path):
    for name, knn in (('odc-seed0', 0.8), ('odc-seed1', 0.7), ('dc', 0.6)):
        (tmp_path / name).mkdir()
        (tmp_path / name / 'monitor_curves.json').write_text(
            json.dumps(records(knn, 0.5)))
    (tmp_path / 'empty').mkdir()
    command = [sys.executable, 'tools/analysis/monitor_table.py',
               '--out-dir', str(tmp_path / 'out')]
    result = subprocess.run(
        command + [str(tmp_path / n) for n in ('odc-seed0', 'odc-seed1',
                                               'dc')],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert '| odc | 2 | 2 | 0.7500 ± 0.0500 |' in result.stdout
    assert (tmp_path / 'out' / 'monitor_table.md').read_text().strip() in \
        result.stdout
    assert (tmp_path / 'out' / 'monitor_curves.png').stat().st_size > 0
    missing = subprocess.run(command + [str(tmp_path / 'empty')], cwd=REPO,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode != 0
    assert 'empty/monitor_curves.json not found' in missing.stderr
