"""Low-shot SVM results of several feature sets side by side: seeds
averaged, the Markdown table, the command line's errors."""
import json
import subprocess
import sys

import pytest
from conftest import REPO

from mmodc.analysis.svm_benchmark import (
    low_shot_comparison,
    low_shot_comparison_table,
)


def result(maps: dict, draw_std: float = 0.01, level: str = 'feature5'):
    """An svm_voc07.json of these per-shot (reference, cross-validated)
    mean mAPs."""
    rows = {shot: dict(
        reference=dict(cost=1.0, map_mean=ref, map_std=draw_std),
        cross_validated=dict(map_mean=cv, map_std=draw_std, cv_from_k=shot))
        for shot, (ref, cv) in maps.items()}
    return dict(checkpoint='x.pth', full={}, low_shot={level: rows})


def test_seeds_are_averaged_and_one_seed_keeps_its_draw_spread():
    alone = result({'1': (0.50, 0.40), '2': (0.60, 0.55)}, draw_std=0.02)
    codc = [result({'1': (0.70, 0.60), '2': (0.80, 0.70)}),
            result({'1': (0.60, 0.50), '2': (0.90, 0.80)})]
    honest = low_shot_comparison({'alone': [alone], 'codc': codc},
                                 'feature5', 'cross_validated')
    assert list(honest) == ['1', '2']
    assert honest['1']['alone'] == pytest.approx((40., 2.))
    # two seeds: their mean and population std, not the draws' std
    assert honest['1']['codc'] == pytest.approx((55., 5.))
    assert honest['2']['codc'] == pytest.approx((75., 5.))
    reference = low_shot_comparison({'codc': codc}, 'feature5', 'reference')
    assert reference['2']['codc'] == pytest.approx((85., 5.))
    table = low_shot_comparison_table(honest)
    assert table.splitlines()[0] == '| k | alone | codc |'
    assert '| 1 | 40.00 ± 2.00 | 55.00 ± 5.00 |' in table
    assert table.splitlines()[-1] == '| mean | 47.50 | 65.00 |'


def test_different_shots_or_a_missing_level_are_errors():
    one = result({'1': (0.5, 0.4)})
    two = result({'1': (0.5, 0.4), '2': (0.6, 0.5)})
    with pytest.raises(ValueError, match=r"b: shots \['1', '2'\] differ"):
        low_shot_comparison({'a': [one], 'b': [two]}, 'feature5',
                            'reference')
    with pytest.raises(ValueError, match='no low-shot SVM of feature4.*'
                       '--low-shot-levels 4'):
        low_shot_comparison({'a': [one]}, 'feature4', 'reference')


def test_command_line(tmp_path):
    paths = []
    for index, maps in enumerate(({'8': (0.7, 0.6)}, {'8': (0.9, 0.8)})):
        paths.append(tmp_path / f'seed{index}.json')
        paths[-1].write_text(json.dumps(result(maps)))
    command = [sys.executable, 'tools/analysis/low_shot_table.py']
    done = subprocess.run(
        command + [f'codc={paths[0]},{paths[1]}', f'alone={paths[0]}',
                   '--out', str(tmp_path / 'table.json')],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '| 8 | 70.00 ± 10.00 | 60.00 ± 1.00 |' in done.stdout
    written = json.loads((tmp_path / 'table.json').read_text())
    assert written['8']['codc'] == pytest.approx([70., 10.])
    missing = subprocess.run(command + [f'a={tmp_path / "none.json"}'],
                             cwd=REPO, capture_output=True, text=True,
                             timeout=120)
    assert missing.returncode == 2
    assert 'none.json: no such file' in missing.stderr
    level = subprocess.run(command + [f'a={paths[0]}', '--level', 'feature2'],
                           cwd=REPO, capture_output=True, text=True,
                           timeout=120)
    assert level.returncode == 2 and 'no low-shot SVM of feature2' in \
        level.stderr
