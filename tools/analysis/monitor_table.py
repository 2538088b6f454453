"""Compare monitored training runs: one table row per setting, curves on
shared axes.

Usage::

    python tools/analysis/monitor_table.py WORK_DIR [WORK_DIR ...]
        [--out-dir DIR]

Each WORK_DIR is a training work dir with ``monitor_curves.json`` (written
by FeatureMonitorHook). Runs whose names differ only by a ``-seedN`` suffix
are one setting: the table gives the mean ± std of their final validation
scores. Writes ``monitor_table.md`` and ``monitor_curves.png`` (the first
seed of every setting, by epoch) into --out-dir (default: the current
folder) and prints the table.
"""
import argparse
import os
import os.path as osp
import sys

# tools/ holds what the tools share
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _runner_setup import import_mmodc, load_work_dirs  # noqa: E402


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Table and curves of FeatureMonitorHook runs.')
    parser.add_argument('work_dirs', nargs='+', help='training work dirs')
    parser.add_argument('--out-dir', default='.', help='output folder')
    return parser.parse_args()


def main() -> None:
    """Summarise, plot and print."""
    args = parse_args()
    import_mmodc()
    from mmodc.analysis.curve_plots import (
        load_monitor_records,
        plot_training_curves,
    )
    from mmodc.analysis.monitor_summary import (
        group_by_setting,
        summarize_runs,
        summary_table,
    )
    runs = load_work_dirs(args.work_dirs, load_monitor_records,
                          'monitor_table.py')
    table = summary_table(summarize_runs(runs))
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'monitor_table.md'), 'w') as stream:
        stream.write(table + '\n')
    first_seeds = {setting: runs[names[0]]
                   for setting, names in group_by_setting(list(runs)).items()}
    plot_training_curves(first_seeds,
                         osp.join(args.out_dir, 'monitor_curves.png'),
                         title='FeatureMonitorHook runs')
    print(table)


if __name__ == '__main__':
    main()
