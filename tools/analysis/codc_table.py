"""Score every member of CODC checkpoints alike, and their features
concatenated: the table shape of docs/codc.md.

Usage::

    python tools/analysis/codc_table.py NAME=CONFIG,CHECKPOINT [...]
        [--members clustering rotation] [--kmeans-seeds 0 1 2]
        [--num-workers N] [--out FILE.json]

    C=configs/selfsup/codc
    F=resnet18-w16_1xb256-steplr-8e_fashionmnist.py
    python tools/analysis/codc_table.py \
      alone=$C/codc-independent_$F,work_dirs/alone/epoch_8.pth \
      codc=$C/codc_$F,work_dirs/codc/epoch_8.pth

For each run: every member's pooled last backbone stage alone, and all
members concatenated (each part L2-normalised), on the config's training
images (k-means with k = classes: NMI, ACC, mean over the seeds) and test
images (kNN top-1, k = 20, cosine, votes exp(cos / 0.07), against the
training images). Prints a Markdown table and writes the rows to --out.
Low-shot SVMs of the same features: tools/benchmarks/svm_voc07.py
--models.
"""
import argparse
import json
import os.path as osp
import sys

# tools/ holds what the tools share
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _runner_setup import import_mmodc, usage_error  # noqa: E402


def parse_run(text: str) -> tuple:
    """``NAME=CONFIG,CHECKPOINT`` -> (name, config, checkpoint)."""
    name, _, paths = text.partition('=')
    config, _, checkpoint = paths.partition(',')
    if not (name and config and checkpoint):
        raise argparse.ArgumentTypeError(
            f'{text!r}: write NAME=CONFIG,CHECKPOINT')
    return name, config, checkpoint


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('runs', nargs='+', type=parse_run,
                        help='NAME=CONFIG,CHECKPOINT of a CODC run')
    parser.add_argument('--members', nargs='+',
                        default=['clustering', 'rotation'])
    parser.add_argument('--kmeans-seeds', nargs='+', type=int,
                        default=[0, 1, 2])
    parser.add_argument('--num-workers', type=int)
    parser.add_argument('--out', help='JSON file for the rows')
    return parser.parse_args()


def main() -> None:
    """Extract, score, print and write."""
    args = parse_args()
    import_mmodc()
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmodc.analysis.member_scores import (
        member_features,
        score_member_sets,
    )
    member_sets = [[name] for name in args.members] + [args.members]
    rows = []
    for name, config, checkpoint in args.runs:
        if not osp.isfile(checkpoint):
            usage_error(f'{checkpoint} does not exist.')
        cfg = Config.fromfile(config)
        init_default_scope(cfg.get('default_scope', 'mmodc'))
        try:
            features, labels = member_features(cfg, checkpoint,
                                               args.members,
                                               args.num_workers)
        except KeyError as error:
            usage_error(f'{name}: {error.args[0]}')
        for row in score_member_sets(features, labels, member_sets,
                                     args.kmeans_seeds):
            rows.append(dict(run=name, checkpoint=checkpoint, **row))
    print('| run | features | dims | k-means NMI | ACC | kNN top-1 |')
    print('|---|---|---:|---:|---:|---:|')
    for row in rows:
        print(f"| {row['run']} | {row['features']} | {row['dim']} | "
              f"{row['nmi']:.4f} ± {row['nmi_std']:.4f} | {row['acc']:.4f} "
              f"| {row['knn_top1']:.4f} |")
    if args.out:
        with open(args.out, 'w') as stream:
            json.dump(rows, stream, indent=1)


if __name__ == '__main__':
    main()
