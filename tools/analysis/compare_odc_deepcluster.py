"""Train ODC and DeepCluster on Fashion-MNIST alike and compare them.

Usage::

    python tools/analysis/compare_odc_deepcluster.py [--work-dir DIR]
        [--odc-config FILE] [--deepcluster-config FILE]
        [--seed S | --seeds S [S ...]] [--kmeans-seeds N] [--knn-k K]
        [--num-workers N]

Both default configs use the same backbone, number of clusters, optimizer,
schedule and images seen (8 epochs x 60,000), each at the LR its recipe
study chose (ODC 0.12, DeepCluster 0.24); both re-extract and re-cluster
(whitened PCA-64) after every epoch, ODC to re-fill its memory with the
clusters matched to its labels (its study's choice), DeepCluster to
re-label its training set. Writes
``comparison.md`` and ``comparison.json`` into the work dir (default
``work_dirs/odc_vs_deepcluster``) and prints the table: NMI of the final
pseudo-labels, k=10 k-means NMI / ACC and kNN top-1 of the backbone
features, seconds of clustering work per epoch vs training work per epoch.
With FeatureMonitorHook in the configs (the defaults have it) it also draws
both runs' curves on the same axes: kNN top-1, k-means and pseudo-label
NMI, loss and label change ratio, by epoch (``training_curves.png``) and by
training wall time (``training_curves_time.png``).

With ``--seeds 0 1 ...`` it runs the comparison once per training seed into
``DIR/seed_S`` (a seed whose ``comparison.json`` is there already is not
trained again, provided it was trained with the same configs, which
``seed_S/trained_configs.json`` records) and writes
``comparison_seeds.md`` / ``.json``: mean and spread over the seeds of
the test scores, and of the validation scores at equal training wall time
(each run's last monitor record within the fastest run's time).
"""
import argparse
import copy
import json
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
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument(
        '--seed',
        type=int,
        help="training seed of both runs (randomness.seed; default: the "
        "configs')")
    seeds.add_argument(
        '--seeds',
        type=int,
        nargs='+',
        help='several training seeds: one comparison each in '
        'WORK_DIR/seed_S, then their mean and spread')
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


def config_record(configs: dict) -> dict:
    """The configs as plain JSON data, to record what a seed trained.

    Args:
        configs (dict): Algorithm name -> training config.

    Returns:
        dict: Algorithm name -> the config as JSON-compatible data.
    """
    return json.loads(json.dumps(
        {name: cfg.to_dict() for name, cfg in configs.items()},
        sort_keys=True, default=repr))


def changed_keys(saved, current, prefix: str = '') -> list:
    """Dotted keys whose values differ between two config records.

    Args:
        saved: A recorded config (or part of one).
        current: The config it is compared with.
        prefix (str): Dotted path of the parts compared.

    Returns:
        list[str]: The differing keys, sorted.
    """
    if not (isinstance(saved, dict) and isinstance(current, dict)):
        return [] if saved == current else [prefix or '(whole config)']
    keys = sorted(set(saved) | set(current))
    return [changed for key in keys for changed in changed_keys(
        saved.get(key), current.get(key), f'{prefix}{key}' if not prefix
        else f'{prefix}.{key}')]


def check_saved_seed(seed_dir: str, configs: dict) -> None:
    """Refuse to reuse a seed's saved comparison trained with other
    configs (or with configs it did not record).

    Args:
        seed_dir (str): The seed's folder.
        configs (dict): Algorithm name -> the seeded training config.

    Raises:
        SystemExit: The recorded configs are missing or differ; the message
            names the differing keys and what to do.
    """
    record = osp.join(seed_dir, 'trained_configs.json')
    advice = (f'pass another --work-dir, or delete {seed_dir} to train '
              'this seed again.')
    if not osp.isfile(record):
        sys.exit(f'compare_odc_deepcluster.py: {seed_dir} holds a '
                 f'comparison but no {osp.basename(record)} saying which '
                 f'configs it trained: {advice}')
    with open(record) as file:
        saved = json.load(file)
    changed = changed_keys(saved, config_record(configs))
    if changed:
        listed = ', '.join(changed[:8]) + (', ...' if len(changed) > 8
                                           else '')
        sys.exit(f'compare_odc_deepcluster.py: {seed_dir} was trained '
                 f'with other configs (differing: {listed}): {advice}')


def compare(configs: dict, work_dir: str, args: argparse.Namespace) -> str:
    """Train and score ``configs`` into ``work_dir``.

    Args:
        configs (dict): Algorithm name -> training config.
        work_dir (str): Output folder (one sub-folder per algorithm).
        args (argparse.Namespace): The command line (scoring options).

    Returns:
        str: The comparison table.
    """
    from mmodc.analysis.algorithm_comparison import AlgorithmComparison
    comparison = AlgorithmComparison(
        configs,
        work_dir,
        kmeans_seeds=range(args.kmeans_seeds),
        knn_k=args.knn_k,
        num_workers=args.num_workers,
        logger=log)
    table = comparison.run()
    log(f'Table written to {osp.join(work_dir, "comparison.md")}')
    return table


def compare_over_seeds(configs: dict, args: argparse.Namespace) -> str:
    """One comparison per seed of ``args.seeds`` (those already in the
    work dir are read, not trained again), then their summary.

    Args:
        configs (dict): Algorithm name -> training config (not changed).
        args (argparse.Namespace): The command line.

    Returns:
        str: The summary written to ``comparison_seeds.md``.
    """
    from mmodc.analysis.comparison_summary import seed_table, summarise_seeds
    comparisons = {}
    for seed in args.seeds:
        seed_dir = osp.join(args.work_dir, f'seed_{seed}')
        saved = osp.join(seed_dir, 'comparison.json')
        seeded = copy.deepcopy(configs)
        set_training_seed(seeded.values(), seed)
        if osp.isfile(saved):
            check_saved_seed(seed_dir, seeded)
            log(f'seed {seed}: {saved} exists, trained with the same '
                'configs: not trained again')
        else:
            record = config_record(seeded)
            compare(seeded, seed_dir, args)
            with open(osp.join(seed_dir, 'trained_configs.json'),
                      'w') as file:
                json.dump(record, file, indent=1, sort_keys=True)
        with open(saved) as file:
            comparisons[seed] = json.load(file)
    summary = summarise_seeds(comparisons)
    text = '\n'.join([
        '# ODC vs DeepCluster over training seeds', '',
        seed_table(summary, args.seeds), '',
        'Test split at equal images seen (the columns of each '
        '`seed_S/comparison.md`), and the validation scores of '
        'FeatureMonitorHook at equal training wall time: each run\'s last '
        'record within the training time of the seed\'s fastest run '
        '(equal time: epoch and s say which record).', ''
    ])
    for name, content in (('comparison_seeds.md', text),
                          ('comparison_seeds.json', json.dumps(
                              summary, indent=2))):
        with open(osp.join(args.work_dir, name), 'w') as file:
            file.write(content)
    log(f'Summary written to {osp.join(args.work_dir, "comparison_seeds.md")}')
    return text


def log(message: str) -> None:
    """Progress on stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    """Train both, score both, print the table."""
    args = parse_args()
    import_mmodc()
    for path in (args.odc_config, args.deepcluster_config):
        if not osp.isfile(path):
            sys.exit(f'compare_odc_deepcluster.py: config {path} not found.')
    configs = dict(
        ODC=Config.fromfile(args.odc_config),
        DeepCluster=Config.fromfile(args.deepcluster_config))
    if args.seeds:
        print(compare_over_seeds(configs, args))
        return
    if args.seed is not None:
        set_training_seed(configs.values(), args.seed)
    print(compare(configs, args.work_dir, args))


if __name__ == '__main__':
    main()
