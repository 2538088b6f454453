"""Compare monitored runs: final validation scores, mean and spread over
seeds."""
import re
from collections import defaultdict
from typing import Dict, List, Mapping, Sequence

from mmodc.evaluation.functional import mean_and_std

#: Column title -> record key of the summary table.
SUMMARY_COLUMNS = {
    'val kNN top-1': 'backbone/knn_top1',
    'val k-means NMI': 'backbone/nmi',
    'val k-means ACC': 'backbone/acc',
    'pseudo-label NMI': 'pseudo_label_nmi',
    'train s': 'train_seconds',
}

SEED_SUFFIX = re.compile(r'[-_]seed\d+$')

#: How a record value is printed, by key (scores: 4 decimals).
VALUE_FORMATS = {
    'epoch': '{:d}',
    'train_seconds': '{:.0f}',
    'train_loss': '{:.3f}',
    'train_change_ratio': '{:.3f}',
}


def format_value(key: str, value: float) -> str:
    """One record value as printed in the tables.

    Args:
        key (str): The record key.
        value (float): Its value.

    Returns:
        str: The value with the key's format (default 4 decimals).
    """
    return VALUE_FORMATS.get(key, '{:.4f}').format(value)


def group_by_setting(names: Sequence[str]) -> Dict[str, List[str]]:
    """Group run names that differ only by a ``-seedN`` suffix.

    Args:
        names (Sequence[str]): Run names (e.g. work dir basenames).

    Returns:
        dict[str, list[str]]: Setting -> its runs, in the given order.
    """
    groups: Dict[str, List[str]] = defaultdict(list)
    for name in names:
        groups[SEED_SUFFIX.sub('', name)].append(name)
    return dict(groups)


def summarize_runs(runs: Mapping[str, Sequence[dict]]) -> List[dict]:
    """Final scores of each setting: mean and std over its seeds.

    Args:
        runs (Mapping[str, Sequence[dict]]): Run name -> monitor records.

    Returns:
        list[dict]: Per setting ``setting``, ``seeds``, ``epochs`` and, for
        every key of :data:`SUMMARY_COLUMNS` that all its runs recorded,
        ``key`` (mean) and ``key_std``.
    """
    rows = []
    for setting, names in group_by_setting(list(runs)).items():
        finals = [runs[name][-1] for name in names]
        row = dict(setting=setting, seeds=len(names),
                   epochs=sorted({final['epoch'] for final in finals}))
        for key in SUMMARY_COLUMNS.values():
            if all(key in final for final in finals):
                row[key], row[f'{key}_std'] = mean_and_std(
                    [final[key] for final in finals])
        rows.append(row)
    return rows


def summary_table(rows: Sequence[dict]) -> str:
    """The summary as markdown: mean ± std (std over seeds, population).

    Args:
        rows (Sequence[dict]): :func:`summarize_runs` output.

    Returns:
        str: The table.
    """
    lines = ['| setting | seeds | epochs | ' + ' | '.join(SUMMARY_COLUMNS) +
             ' |', '|---|---:|---:|' + '---:|' * len(SUMMARY_COLUMNS)]
    for row in rows:
        cells = []
        for key in SUMMARY_COLUMNS.values():
            if key not in row:
                cells.append('-')
            elif row['seeds'] > 1 and key != 'train_seconds':
                cells.append(f'{format_value(key, row[key])} ± '
                             f'{format_value(key, row[key + "_std"])}')
            else:
                cells.append(format_value(key, row[key]))
        epochs = '/'.join(str(epoch) for epoch in row['epochs'])
        lines.append(f"| {row['setting']} | {row['seeds']} | {epochs} | " +
                     ' | '.join(cells) + ' |')
    return '\n'.join(lines)
