"""Score finished training runs on their config's validation split.

Usage::

    python tools/analysis/validation_scores.py WORK_DIR [WORK_DIR ...]
        [--kmeans-seeds N] [--feature backbone|neck] [--out FILE]

Each WORK_DIR is a finished ``tools/train.py`` run (its config dump and
``last_checkpoint``). The last checkpoint's features are scored on the
validation split of the config's FeatureMonitorHook (its bank and query
dataloaders) as the monitor scores them, but with N k-means seeds (default
5) instead of one. Runs whose names differ only by a ``-seedN`` suffix are
one setting: the table gives the mean ± std over their training seeds, and
the NMI's spread over k-means seeds. Prints the markdown table and writes
it to --out if given. Choose settings on these numbers, never on the test
split.
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
        description='Validation-split scores of finished training runs, '
        'with several k-means seeds.')
    parser.add_argument('work_dirs', nargs='+', help='training work dirs')
    parser.add_argument('--kmeans-seeds', type=int, default=5,
                        help='k-means runs (seeds 0..N-1) per checkpoint')
    parser.add_argument('--feature', default='backbone',
                        choices=('backbone', 'neck'),
                        help='which features to score')
    parser.add_argument('--out', help='also write the table to this file')
    args = parser.parse_args()
    if args.kmeans_seeds < 1:
        parser.error(f'--kmeans-seeds {args.kmeans_seeds}: give at least 1.')
    return args


def main() -> None:
    """Score every run, print (and write) the table."""
    args = parse_args()
    import_mmodc()
    from mmengine.config import Config

    from mmodc.analysis.validation_scores import (
        summarize_settings,
        validation_scores,
        validation_table,
        work_dir_run,
    )
    runs = load_work_dirs(args.work_dirs, work_dir_run,
                          'validation_scores.py')
    scores = {}
    for name, run in runs.items():
        print(f'{name}: scoring {run["checkpoint"]}', file=sys.stderr,
              flush=True)
        scores[name] = validation_scores(
            Config.fromfile(run['config']), run['checkpoint'],
            kmeans_seeds=range(args.kmeans_seeds), feature=args.feature)
    table = validation_table(summarize_settings(scores), args.kmeans_seeds)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as stream:
            stream.write(table + '\n')
    print(table)


if __name__ == '__main__':
    main()
