r"""kNN accuracy of a model's frozen features.

Usage::

    python tools/benchmarks/knn.py CONFIG {CHECKPOINT | --no-checkpoint}
        [--dataset-config FILE] [--features {model,backbone}]
        [--models NAME[,NAME]]
        [--k 10 20 100 200] [--temperature 0.07 | --majority]
        [--num-train N] [--num-val N] [--batch-size N] [--num-workers N]
        [--out FILE.json]
        [--cfg-options KEY=VALUE ...] [--dataset-cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}]

    # an ODC model trained on Fashion-MNIST, kNN over its 60,000 training
    # images and 10,000 test images
    python tools/benchmarks/knn.py \
      configs/selfsup/odc/odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py \
      work_dirs/odc_resnet18-w16_1xb256-steplr-8e_fashionmnist/epoch_8.pth \
      --dataset-config configs/benchmarks/classification/knn_fashionmnist.py \
      --out knn.json

    # several processes share the extraction (GPUs, or CPU processes)
    python -m torch.distributed.run --nproc_per_node 2 \
      tools/benchmarks/knn.py CONFIG CHECKPOINT --launcher pytorch ...

The model is ``model`` of CONFIG, with the checkpoint's weights or freshly
initialised (``--no-checkpoint``, seeded with the config's seed; BatchNorm
running statistics are then those of 20 reference batches). The
reference (training) set and the query (validation) set are the datasets of
``train_dataloader`` and ``val_dataloader`` of ``--dataset-config`` (default:
CONFIG itself); both go through the validation set's pipeline, so the
reference images are not augmented. Features are the model's
``extract_feat`` (``--features model``; for ODC and DeepCluster the neck
embedding) or the globally pooled last backbone stage (``--features
backbone``), L2-normalised. Every query is classified by its ``k`` most
cosine-similar reference samples with votes weighted ``exp(cos / T)``; the
tool prints top-1 and top-5 accuracy for each ``k`` and writes them, as
fractions, to ``--out``. ``--num-train`` / ``--num-val`` keep the first N
samples of each set, for quick checks. For a CODC checkpoint,
``--models clustering`` scores one member's pooled backbone and
``--models clustering,rotation`` their concatenation.
"""
import argparse
import copy
import json
import os.path as osp
import sys
from typing import TYPE_CHECKING, Dict, Optional, Sequence

import mmengine
from mmengine.config import Config, DictAction

# tools/ holds what the tools share
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _runner_setup import (  # noqa: E402
    add_checkpoint_args,
    add_launcher_args,
    check_checkpoint_args,
    docstring_parser,
    import_mmodc,
    set_dataloader_defaults,
    set_local_rank,
    usage_error,
)

if TYPE_CHECKING:
    import torch.nn as nn
    from torch.utils.data import DataLoader


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): The arguments (default: sys.argv).

    Returns:
        argparse.Namespace: ``config``, ``checkpoint`` (None with
        ``--no-checkpoint``), ``k``, ``temperature`` (None for a
        majority vote), the feature and data options and
        ``launcher``.
    """
    parser = docstring_parser(__doc__)
    add_checkpoint_args(parser, 'config with the model',
                        'checkpoint (.pth) to evaluate')
    parser.add_argument(
        '--dataset-config',
        help='config whose train_dataloader / val_dataloader give the '
        'reference and query sets (default: CONFIG)')
    parser.add_argument(
        '--features',
        choices=['model', 'backbone'],
        default='model',
        help="model: the model's extract_feat (ODC: neck embedding); "
        'backbone: global average pool of the last backbone stage')
    parser.add_argument(
        '--models',
        type=lambda text: [name for name in text.split(',') if name],
        help='CODC: the members whose pooled backbone features are scored, '
        'comma-separated (several are concatenated)')
    parser.add_argument(
        '--k',
        type=int,
        nargs='+',
        default=[10, 20, 100, 200],
        help='numbers of neighbours')
    vote = parser.add_mutually_exclusive_group()
    vote.add_argument(
        '--temperature',
        type=float,
        default=0.07,
        help='votes weigh exp(cosine / T)')
    vote.add_argument(
        '--majority',
        action='store_true',
        help='one vote per neighbour instead')
    parser.add_argument(
        '--num-train',
        type=int,
        help='use the first N reference samples only (quick checks)')
    parser.add_argument(
        '--num-val',
        type=int,
        help='use the first N query samples only (quick checks)')
    parser.add_argument(
        '--batch-size', type=int, help='extraction batch size per process')
    parser.add_argument(
        '--num-workers', type=int, help='dataloader workers per process')
    parser.add_argument('--out', help='JSON file for the results')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of CONFIG, key=value pairs')
    parser.add_argument(
        '--dataset-cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of --dataset-config, key=value pairs')
    add_launcher_args(parser)
    args = parser.parse_args(argv)
    check_checkpoint_args(args)
    if min(args.k) < 1:
        usage_error(f'--k values must be positive, got {args.k}.')
    if args.majority:
        args.temperature = None
    set_local_rank(args.local_rank)
    return args


def load_configs(args: argparse.Namespace) -> Dict[str, Config]:
    """The model config and the dataset config, options applied.

    Args:
        args (argparse.Namespace): The options.

    Returns:
        dict[str, Config]: ``model`` and ``data`` (the same object without
        ``--dataset-config``).
    """
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    data_cfg = cfg
    if args.dataset_config:
        data_cfg = Config.fromfile(args.dataset_config)
    if args.dataset_cfg_options:
        data_cfg.merge_from_dict(args.dataset_cfg_options)
    return dict(model=cfg, data=data_cfg)


def knn_loader_cfgs(data_cfg: Config,
                    args: argparse.Namespace) -> Dict[str, dict]:
    """Extraction dataloader configs of the reference and query sets.

    Args:
        data_cfg (Config): Config with ``train_dataloader`` and
            ``val_dataloader``.
        args (argparse.Namespace): The options.

    Returns:
        dict[str, dict]: ``train`` and ``val`` dataloader configs.
    """
    source = args.dataset_config or args.config
    loaders = {
        split: _config_loader(data_cfg, split, source)
        for split in ('train', 'val')
    }
    pipeline = loaders['val'].dataset.get('pipeline')
    if pipeline is None:
        usage_error(f'val_dataloader.dataset of {source} has no pipeline.')
    sizes = dict(train=args.num_train, val=args.num_val)
    for split, loader in loaders.items():
        _make_extraction_loader(loader, pipeline, sizes[split], args)
    # each set is read once: no persistent workers
    set_dataloader_defaults(
        loaders, ('train', 'val'), no_persistent_workers=True)
    return loaders


def _config_loader(data_cfg: Config, split: str, source: str) -> Config:
    """A copy of ``{split}_dataloader``, or a usage error naming the file.

    Args:
        data_cfg (Config): The dataset config.
        split (str): 'train' or 'val'.
        source (str): The config file, for the message.

    Returns:
        Config: The dataloader config.
    """
    loader = data_cfg.get(f'{split}_dataloader')
    if not loader or 'dataset' not in loader:
        usage_error(
            f'{source} has no {split}_dataloader with a dataset; give '
            '--dataset-config with train_dataloader and val_dataloader '
            '(e.g. configs/benchmarks/classification/knn_fashionmnist.py).')
    return copy.deepcopy(loader)


def _make_extraction_loader(loader: Config, pipeline: list,
                            size: Optional[int],
                            args: argparse.Namespace) -> None:
    """Set the validation pipeline, the first ``size`` samples, an
    unshuffled sampler that visits every sample once, and the batch size and
    workers options.

    Args:
        loader (Config): A dataloader config, changed in place.
        pipeline (list): The validation pipeline.
        size (int, optional): Number of samples; None for all.
        args (argparse.Namespace): The options.
    """
    loader.dataset.pipeline = copy.deepcopy(pipeline)
    if size is not None:
        loader.dataset.indices = size
    loader.sampler = dict(type='DefaultSampler', shuffle=False, round_up=False)
    if args.batch_size is not None:
        loader.batch_size = args.batch_size
    if args.num_workers is not None:
        loader.num_workers = args.num_workers


def build_loaders(loader_cfgs: Dict[str, dict],
                  args: argparse.Namespace) -> Dict[str, 'DataLoader']:
    """Build the dataloaders and check the requested sizes.

    Args:
        loader_cfgs (dict[str, dict]): From :func:`knn_loader_cfgs`.
        args (argparse.Namespace): The options.

    Returns:
        dict[str, DataLoader]: ``train`` and ``val``.
    """
    from mmengine.runner import Runner

    loaders = {
        split: Runner.build_dataloader(cfg)
        for split, cfg in loader_cfgs.items()
    }
    for split, wanted in (('train', args.num_train), ('val', args.num_val)):
        size = len(loaders[split].dataset)
        if wanted is not None and size < wanted:
            usage_error(f'--num-{split} {wanted}: the {split} set has only '
                        f'{size} samples.')
    return loaders


def calibrate_untrained(model: 'nn.Module', loader: 'DataLoader') -> None:
    """Give a freshly initialised model's BatchNorm layers the running
    statistics of 20 reference batches instead of the initial (0, 1), as
    training and its calibration would (the model keeps its mode).

    Args:
        model (nn.Module): The model.
        loader (DataLoader): The reference (training) set's loader.
    """
    from mmodc.engine.extractor import recompute_bn_statistics

    recompute_bn_statistics(model, loader, 20)


def build_model(cfg: Config, args: argparse.Namespace) -> 'nn.Module':
    """The model, with the checkpoint's weights or freshly initialised with
    the config's seed, on the GPU if there is one.

    Args:
        cfg (Config): The model config.
        args (argparse.Namespace): The options.

    Returns:
        nn.Module: The model in eval mode.
    """
    import torch

    from mmodc.analysis.odc_report import build_odc_model

    seed = cfg.get('randomness', {}).get('seed', 0) or 0
    model = build_odc_model(cfg, args.checkpoint, seed)
    if torch.cuda.is_available():
        model = model.cuda()
    return model.eval()


def check_members(model: 'nn.Module',
                  names: Optional[Sequence[str]]) -> None:
    """Exit with a usage error unless every ``--models`` name is a member
    of the (CODC) model.

    Args:
        model (nn.Module): The model.
        names (Sequence[str], optional): ``--models``.
    """
    from mmodc.engine.extractor import member_of

    for name in names or ():
        try:
            member_of(model, name)
        except KeyError as error:
            usage_error(f'--models: {error.args[0]}')


def report(args: argparse.Namespace, scores: dict, info: dict) -> dict:
    """Print the table and write the JSON.

    Args:
        args (argparse.Namespace): The options.
        scores (dict): kNN accuracies by ``k``.
        info (dict): Sizes and feature dimension.

    Returns:
        dict: Everything written to the JSON.
    """
    from mmodc.analysis.knn_benchmark import knn_table

    result = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        dataset_config=args.dataset_config or args.config,
        features=(f"backbone of {','.join(args.models)}"
                  if args.models else args.features),
        temperature=args.temperature,
        **info,
        knn=scores)
    vote = ('majority vote' if args.temperature is None else
            f'votes exp(cos / {args.temperature})')
    print(f"kNN, {result['features']} features ({info['feature_dim']} dims), "
          f"{info['num_train']} reference / {info['num_val']} query "
          f'samples, {vote}:')
    print(knn_table(scores))
    if args.out:
        mmengine.mkdir_or_exist(osp.dirname(osp.abspath(args.out)))
        with open(args.out, 'w') as file:
            json.dump(result, file, indent=2)
        print(f'Results written to {args.out}', file=sys.stderr)
    return result


def main(argv: Optional[Sequence[str]] = None) -> Optional[dict]:
    """Extract the features, compute the kNN accuracies and report them.

    Args:
        argv (Sequence[str], optional): The arguments (default: sys.argv).

    Returns:
        dict, optional: The results on the main process, None elsewhere.
    """
    args = parse_args(argv)
    import_mmodc()
    from mmengine.dist import init_dist, is_main_process
    from mmengine.registry import init_default_scope

    from mmodc.analysis.knn_benchmark import (
        extract_labelled_features,
        knn_scores,
    )

    if args.launcher != 'none':
        init_dist(args.launcher)
    cfgs = load_configs(args)
    init_default_scope(cfgs['model'].get('default_scope', 'mmodc'))
    loaders = build_loaders(knn_loader_cfgs(cfgs['data'], args), args)
    model = build_model(cfgs['model'], args)
    if args.checkpoint is None:
        calibrate_untrained(model, loaders['train'])
    check_members(model, args.models)
    features = {
        split: extract_labelled_features(
            model, loader, args.features, members=args.models)
        for split, loader in loaders.items()
    }
    if not is_main_process():
        return None
    scores = knn_scores(
        *features['train'], *features['val'],
        ks=args.k,
        temperature=args.temperature)
    return report(
        args, scores,
        dict(
            num_train=len(features['train'][1]),
            num_val=len(features['val'][1]),
            feature_dim=int(features['train'][0].shape[1])))


if __name__ == '__main__':
    main()
