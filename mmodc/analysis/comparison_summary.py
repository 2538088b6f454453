"""Mean and spread of algorithm comparisons repeated over training seeds.

Each comparison is the ``comparison.json`` that
:class:`~mmodc.analysis.algorithm_comparison.AlgorithmComparison` writes:
test-split scores per algorithm (``rows``) and the FeatureMonitorHook
records of each run (``curves``, validation split). Besides the test
scores at equal images seen, the summary reads each run's validation
scores at equal training wall time: the last monitor record of every run
within the training time of the seed's fastest run.
"""
from typing import Dict, List, Sequence, Tuple

from mmodc.evaluation.functional import mean_and_std

TEST_SCORES = ('pseudo_label_nmi', 'kmeans_nmi', 'kmeans_acc', 'knn_top1')
MONITOR_SCORES = ('backbone/knn_top1', 'backbone/nmi')


def records_at_equal_time(curves: Dict[str, List[dict]]) -> Dict[str, dict]:
    """Each run's last monitor record within the shortest run's training
    time.

    Args:
        curves (dict[str, list[dict]]): Algorithm -> its monitor records
            in training order, each with ``train_seconds``.

    Returns:
        dict[str, dict]: Algorithm -> the record (the shortest run's is its
        last).
    """
    missing = [name for name, records in curves.items() if not records]
    if missing:
        raise ValueError(
            f'No monitor records for {missing}: the equal-time scores need '
            'FeatureMonitorHook in every compared config.')
    budget = min(records[-1]['train_seconds'] for records in curves.values())
    return {
        name: [r for r in records if r['train_seconds'] <= budget][-1]
        for name, records in curves.items()
    }


def summarise_seeds(
        comparisons: Dict[int, dict]) -> Dict[str, Dict[str, Tuple]]:
    """Mean and spread over seeds of every algorithm's scores.

    Args:
        comparisons (dict[int, dict]): Training seed -> its comparison
            (``rows`` and ``curves``), the same algorithms in each.

    Returns:
        dict[str, dict[str, tuple]]: Algorithm -> score name -> (mean,
        std). Test scores keep their names; ``train_seconds`` is the
        training wall time; ``equal_time/<monitor key>``, ``equal_time/
        epoch`` and ``equal_time/train_seconds`` are the validation
        records at equal wall time.
    """
    names = {seed: list(c['rows']) for seed, c in comparisons.items()}
    first = next(iter(names.values()))
    if any(sorted(n) != sorted(first) for n in names.values()):
        raise ValueError(f'The seeds compare different algorithms: {names}')
    equal_time = {seed: records_at_equal_time(c['curves'])
                  for seed, c in comparisons.items()}
    summary = {}
    for name in first:
        rows = [c['rows'][name] for c in comparisons.values()]
        records = [equal_time[seed][name] for seed in comparisons]
        scores = {key: mean_and_std([row[key] for row in rows])
                  for key in TEST_SCORES + ('train_seconds', )}
        for key in MONITOR_SCORES + ('epoch', 'train_seconds'):
            scores[f'equal_time/{key}'] = mean_and_std(
                [record[key] for record in records])
        summary[name] = scores
    return summary


def seed_table(summary: Dict[str, Dict[str, Tuple]], seeds: Sequence[int]
               ) -> str:
    """The summary as a markdown table.

    Args:
        summary (dict): :func:`summarise_seeds`'s result.
        seeds (Sequence[int]): The training seeds it averages.

    Returns:
        str: The table (mean ± population std), under a line naming the
        seeds.
    """

    def cell(scores, key, digits=4):
        mean, std = scores[key]
        return f'{mean:.{digits}f} ± {std:.{digits}f}'

    lines = [
        f'Training seeds {list(seeds)}; mean ± population std.', '',
        '| algorithm | pseudo-label NMI | k-means NMI | k-means ACC | '
        'kNN top-1 | total train s | equal time: epoch | equal time: s | '
        'equal time: val kNN top-1 | equal time: val k-means NMI |',
        '|---|---|---|---|---|---|---|---|---|---|',
    ]
    for name, scores in summary.items():
        lines.append(
            f'| {name} | ' + ' | '.join(
                [cell(scores, key) for key in TEST_SCORES] + [
                    cell(scores, 'train_seconds', 0),
                    cell(scores, 'equal_time/epoch', 1),
                    cell(scores, 'equal_time/train_seconds', 0),
                    cell(scores, 'equal_time/backbone/knn_top1'),
                    cell(scores, 'equal_time/backbone/nmi'),
                ]) + ' |')
    return '\n'.join(lines)
