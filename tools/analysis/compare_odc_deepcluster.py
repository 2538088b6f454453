"""Train ODC and DeepCluster on Fashion-MNIST alike and compare them.

Usage::

    python tools/analysis/compare_odc_deepcluster.py [--work-dir DIR]
        [--odc-config FILE] [--deepcluster-config FILE]
        [--seed S] [--kmeans-seeds N] [--knn-k K] [--num-workers N]

Both default configs use the same backbone, number of clusters, optimizer,
schedule and images seen (8 epochs x 60,000). Writes ``comparison.md`` and
``comparison.json`` into the work dir (default
``work_dirs/odc_vs_deepcluster``) and prints the table: NMI of the final
pseudo-labels, k=10 k-means NMI / ACC and kNN top-1 of the backbone
features, seconds of clustering work per epoch vs training work per epoch.
With FeatureMonitorHook in the configs (the defaults have it) it also draws
both runs' curves on the same axes: kNN top-1, k-means and pseudo-label
NMI, loss and label change ratio, by epoch (``training_curves.png``) and by
training wall time (``training_curves_time.png``).
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config

# tools/ holds what the tools share
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _runner_setup import import_mmodc  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ODC = 'configs/selfsup/odc/odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py'
DEEPCLUSTER = ('configs/selfsup/deepcluster/'
               'deepcluster_resnet18-w16_1xb256-steplr-8e_fashionmnist.py')


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Train ODC and DeepCluster with the same backbone and '
        'budget and write one comparison table.')
    parser.add_argument(
        '--work-dir',
        default='work_dirs/odc_vs_deepcluster',
        help='output folder (one sub-folder per training run)')
    parser.add_argument(
        '--odc-config', default=osp.join(REPO, ODC), help='ODC config')
    parser.add_argument(
        '--deepcluster-config',
        default=osp.join(REPO, DEEPCLUSTER),
        help='DeepCluster config')
    parser.add_argument(
        '--seed',
        type=int,
        help="training seed of both runs (randomness.seed; default: the "
        "configs'); one work dir per seed gives the spread over seeds")
    parser.add_argument(
        '--kmeans-seeds',
        type=int,
        default=3,
        help='k-means runs (seeds 0..N-1) whose scores are averaged')
    parser.add_argument(
        '--knn-k', type=int, default=20, help='kNN neighbours')
    parser.add_argument(
        '--num-workers',
        type=int,
        help="workers of the evaluation dataloaders (default: the "
        "config's)")
    return parser.parse_args()


def set_training_seed(configs, seed: int) -> None:
    """Give every config ``randomness.seed=seed`` (as ``--cfg-options``
    would), keeping its other randomness settings.

    Args:
        configs (Iterable[Config]): The configs to change in place.
        seed (int): The training seed.
    """
    for cfg in configs:
        cfg.merge_from_dict({'randomness.seed': seed})


def main() -> None:
    """Train both, score both, print the table."""
    args = parse_args()
    import_mmodc()
    from mmodc.analysis.algorithm_comparison import AlgorithmComparison

    for path in (args.odc_config, args.deepcluster_config):
        if not osp.isfile(path):
            sys.exit(f'compare_odc_deepcluster.py: config {path} not found.')
    configs = dict(
        ODC=Config.fromfile(args.odc_config),
        DeepCluster=Config.fromfile(args.deepcluster_config))
    if args.seed is not None:
        set_training_seed(configs.values(), args.seed)
    comparison = AlgorithmComparison(
        configs,
        args.work_dir,
        kmeans_seeds=range(args.kmeans_seeds),
        knn_k=args.knn_k,
        num_workers=args.num_workers,
        logger=lambda message: print(message, file=sys.stderr, flush=True))
    print(comparison.run())
    print('Table written to '
          f'{osp.join(args.work_dir, "comparison.md")}', file=sys.stderr)


if __name__ == '__main__':
    main()
