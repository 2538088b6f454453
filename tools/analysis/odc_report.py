"""Evaluation report of a trained ODC checkpoint.

Usage::

    python tools/analysis/odc_report.py CONFIG CHECKPOINT [--work-dir DIR]
        [--kmeans-seeds N] [--knn-k K] [--knn-temperature T | --knn-majority]
        [--num-workers N] [--calibrate-bn-batches N]
        [--cfg-options KEY=VALUE ...]

Compares the learned features with the untrained network and raw pixels
(k-means NMI / ARI / ACC on the training set, kNN top-1 on the test set),
scores the ODC pseudo-labels of the memory and draws the cluster sizes and
a cluster gallery, and plots the FeatureMonitorHook curves saved in the
checkpoint. Writes ``odc_report.md``, ``odc_report.json``,
``cluster_sizes.png``, ``cluster_gallery.png`` and ``training_curves.png``
into the work dir (default: the checkpoint's folder) and prints the report.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config, DictAction

# tools/ holds what the tools share
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _runner_setup import import_mmodc  # noqa: E402


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Evaluate an ODC checkpoint: clustering and kNN scores '
        'against the untrained network and raw pixels.')
    parser.add_argument('config', help='training config file')
    parser.add_argument('checkpoint', help='trained checkpoint (.pth)')
    parser.add_argument(
        '--work-dir',
        help="output folder (default: the checkpoint's folder)")
    parser.add_argument(
        '--kmeans-seeds',
        type=int,
        default=5,
        help='k-means runs (seeds 0..N-1) whose scores are averaged')
    parser.add_argument(
        '--knn-k', type=int, default=20, help='kNN neighbours')
    vote = parser.add_mutually_exclusive_group()
    vote.add_argument(
        '--knn-temperature',
        type=float,
        default=0.07,
        help='kNN votes weigh exp(cosine / T)')
    vote.add_argument(
        '--knn-majority',
        action='store_true',
        help='kNN with one vote per neighbour instead')
    parser.add_argument(
        '--num-workers',
        type=int,
        help="workers of the extraction dataloaders (default: the "
        "config's)")
    parser.add_argument(
        '--calibrate-bn-batches',
        type=int,
        default=20,
        help='batches over which the BatchNorm statistics of the untrained '
        'network are computed (0: keep its initial ones)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs')
    return parser.parse_args()


def main() -> None:
    """Compute, write and print the report."""
    args = parse_args()
    import_mmodc()
    from mmodc.analysis.odc_report import ODCReport

    if not osp.isfile(args.checkpoint):
        sys.exit(f'odc_report.py: checkpoint {args.checkpoint} not found.')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    work_dir = args.work_dir or osp.dirname(osp.abspath(args.checkpoint))
    report = ODCReport(
        cfg,
        args.checkpoint,
        work_dir,
        kmeans_seeds=range(args.kmeans_seeds),
        knn_k=args.knn_k,
        knn_temperature=None if args.knn_majority else args.knn_temperature,
        num_workers=args.num_workers,
        calibrate_bn_batches=args.calibrate_bn_batches,
        logger=lambda message: print(message, file=sys.stderr, flush=True))
    text = report.run()
    print(text)
    print(f'Report written to {osp.join(work_dir, "odc_report.md")}',
          file=sys.stderr)


if __name__ == '__main__':
    main()
