"""Low-shot SVM results of several feature sets side by side.

Usage::

    python tools/analysis/low_shot_table.py NAME=RESULT[,RESULT ...] [...]
        [--level feature5] [--selection cross_validated|reference]
        [--out FILE.json]

    python tools/analysis/low_shot_table.py \
      alone=work_dirs/svm_alone/svm_voc07.json \
      codc=work_dirs/svm_codc/svm_voc07.json,work_dirs/svm_codc_s1/svm_voc07.json

Each RESULT is the ``svm_voc07.json`` that tools/benchmarks/svm_voc07.py
writes; several results of one NAME are training seeds, averaged (± their
population std; with one seed, ± the std over the SVM draws). Prints a
Markdown table, a row per k and a column per NAME, and writes the numbers to
--out.
"""
import argparse
import json
import os.path as osp
import sys

# tools/ holds what the tools share
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _runner_setup import usage_error  # noqa: E402


def parse_run(text: str) -> tuple:
    """``NAME=RESULT[,RESULT ...]`` -> (name, [result paths])."""
    name, _, paths = text.partition('=')
    if not (name and paths):
        raise argparse.ArgumentTypeError(
            f'{text!r}: write NAME=RESULT[,RESULT ...]')
    return name, paths.split(',')


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('runs', nargs='+', type=parse_run,
                        help='NAME=RESULT[,RESULT ...]: svm_voc07.json files')
    parser.add_argument('--level', default='feature5')
    parser.add_argument('--selection', default='cross_validated',
                        choices=['cross_validated', 'reference'])
    parser.add_argument('--out', help='JSON file for the numbers')
    return parser.parse_args()


def read_result(path: str) -> dict:
    """One svm_voc07.json, or a usage error naming the file."""
    if not osp.isfile(path):
        usage_error(f'{path}: no such file; give the svm_voc07.json that '
                    'tools/benchmarks/svm_voc07.py wrote.')
    try:
        with open(path) as file:
            return json.load(file)
    except json.JSONDecodeError as error:
        usage_error(f'{path}: not a JSON file ({error}).')


def main() -> None:
    """Read, compare, print and write."""
    args = parse_args()
    from mmodc.analysis.svm_benchmark import (
        low_shot_comparison,
        low_shot_comparison_table,
    )
    runs = {name: [read_result(path) for path in paths]
            for name, paths in args.runs}
    try:
        comparison = low_shot_comparison(runs, args.level, args.selection)
    except ValueError as error:
        usage_error(str(error))
    print(f'Low-shot SVM, {args.level}, {args.selection} selection '
          '(test mAP %):')
    print(low_shot_comparison_table(comparison))
    if args.out:
        with open(args.out, 'w') as file:
            json.dump(comparison, file, indent=2)


if __name__ == '__main__':
    main()
