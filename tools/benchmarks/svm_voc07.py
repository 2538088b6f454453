r"""VOC07 SVM and low-shot SVM benchmark of frozen multi-level features.

Usage::

    python tools/benchmarks/svm_voc07.py CONFIG {CHECKPOINT | --no-checkpoint}
        [--levels 1 2 3 4 5] [--low-shot-levels 5] [--no-full]
        [--shots 1 2 4 8 16 32 64 96] [--draws 5] [--seed 0]
        [--samples FILE.npz] [--load-features] [--device cuda] [--float32]
        [--models NAME[,NAME]]
        [--work-dir DIR] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}]

    # features and targets that another pipeline extracted
    python tools/benchmarks/svm_voc07.py \
        --train-features F.npy|F.npz --train-targets T.npy|T.npz \
        --test-features F.npy|F.npz --test-targets T.npy|T.npz \
        --target-convention {voc_devkit,fair_benchmark} [--level 5]
        [--levels ...] [--low-shot-levels ...] [--no-full]
        [--shots ...] [--draws 5] [--seed 0] [--samples FILE.npz]
        [--device cuda] [--float32] [--work-dir DIR]

    # an ODC ResNet-50 checkpoint on VOC2007 (data/VOCdevkit/VOC2007 with
    # JPEGImages/, Annotations/, ImageSets/Main/{trainval,test}.txt)
    python tools/benchmarks/svm_voc07.py \
      configs/benchmarks/classification/voc07/svm_resnet50_voc07.py \
      odc_r50_440e.pth --low-shot-levels 5

    # Fashion-MNIST: low-shot only, the quickstart's ODC checkpoint
    CONFIGS=configs/benchmarks/classification
    python tools/benchmarks/svm_voc07.py \
      $CONFIGS/fashionmnist/svm_resnet18-w16_fashionmnist.py \
      work_dirs/quickstart/epoch_8.pth --no-full --low-shot-levels 5

CONFIG holds ``model`` (an ``ImageClassifier`` with a ``MultiLevelResNet``
and a ``MultiPooling`` neck, no head), ``train_dataloader`` (trainval) and
``test_dataloader`` (test), both unaugmented. The backbone weights come from
CHECKPOINT: an mmodc ODC / DeepCluster checkpoint (its ``backbone.*``
keys) or a backbone-only file (keys without a prefix); every backbone key
and shape must match. ``--no-checkpoint`` evaluates the freshly
initialised network (seeded with ``--seed``). From a CODC checkpoint,
``--models clustering`` takes one member's backbone
(``members.clustering.backbone.*``) and ``--models clustering,rotation``
concatenates the members' features at every level.

Per level (feature1 = stem ... feature5 = last stage): the full benchmark
trains one linear SVM per class and cost (squared hinge, L2, positives
weighted 2, L2-normalised features, the 19 reference costs), chooses each
class's cost by 3-fold cross-validated AP on trainval and reports test mAP,
difficult images ignored. The low-shot benchmark uses k positives and 19 k
negatives per class, 5 draws per k, and reports the reference selection
(the cost with the best mean test mAP, how the published tables were made)
and a cross-validated one. The draws are written to
WORK_DIR/low_shot_samples.npz (``--samples`` reads them back, so a run can
be repeated); features to WORK_DIR/features.pt (``--load-features`` reuses
them); results to WORK_DIR/svm_voc07.json, and the tables are printed.

Precomputed features (``--train-features`` ...; no CONFIG, no checkpoint):
a ``.npy`` file holds one level (``--level``, default 5) of one split, as
the reference extractors write them (FAIR's benchmark, OpenSelfSup /
MMSelfSup, VISSL); an ``.npz`` file holds ``feature1`` ... ``feature5``.
Targets are ``N x L`` arrays (``.npy``, or ``.npz`` with ``targets``) in
the convention named by the required ``--target-convention``:
``voc_devkit`` (1 present, -1 absent, 0 difficult; the VOC devkit's
ImageSets/Main lists) or ``fair_benchmark`` (1 present, 0 absent, -1
difficult; the target files of FAIR's benchmark and the tools ported from
it). Values outside the named convention, or more difficult than absent
entries (the other convention, read wrongly), are refused. The work dir
defaults to ./work_dirs/svm_voc07_precomputed.
"""
import argparse
import json
import os.path as osp
import shutil
import sys
from typing import Optional, Sequence

import mmengine

# tools/ holds what the tools share
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _runner_setup import (  # noqa: E402
    add_checkpoint_args,
    add_common_args,
    check_checkpoint_args,
    docstring_parser,
    import_mmodc,
    load_config,
    set_dataloader_defaults,
    set_local_rank,
    usage_error,
)

PRECOMPUTED_FILES = ('train_features', 'train_targets', 'test_features',
                     'test_targets')
PRECOMPUTED_CONVENTIONS = ('voc_devkit', 'fair_benchmark')
PRECOMPUTED_WORK_DIR = osp.join('.', 'work_dirs', 'svm_voc07_precomputed')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): The arguments (default: sys.argv).

    Returns:
        argparse.Namespace: ``config``, ``checkpoint`` (None with
        ``--no-checkpoint``), the levels, shots, draws and solver
        options, and the Runner options of :func:`add_common_args`.
    """
    parser = docstring_parser(__doc__)
    add_checkpoint_args(parser, 'benchmark config (model and data)',
                        'weights to evaluate', optional_config=True)
    add_precomputed_args(parser)
    parser.add_argument('--levels', type=int, nargs='+',
                        help='levels of the full SVM (default: all levels '
                        'of the model)')
    parser.add_argument('--no-full', action='store_true',
                        help='skip the full SVM (low-shot only)')
    parser.add_argument('--low-shot-levels', type=int, nargs='*',
                        default=[], help='levels of the low-shot SVMs '
                        '(the reference ran 5 only); none by default')
    parser.add_argument('--shots', type=int, nargs='+',
                        default=[1, 2, 4, 8, 16, 32, 64, 96])
    parser.add_argument('--draws', type=int, default=5,
                        help='independent draws per k')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the draws and of --no-checkpoint')
    parser.add_argument('--samples', help='low-shot draws to reuse (.npz)')
    parser.add_argument('--load-features', action='store_true',
                        help='reuse WORK_DIR/features.pt')
    parser.add_argument('--device', help='where the SVMs are solved '
                        '(default: cuda if available, else cpu)')
    parser.add_argument('--float32', action='store_true',
                        help='solve in float32 (faster; default float64, '
                        'which large costs on separable data need to '
                        'converge)')
    parser.add_argument('--models',
                        type=lambda text: [n for n in text.split(',') if n],
                        help='CODC: the members whose backbones are '
                        'evaluated, comma-separated (several are '
                        'concatenated at every level)')
    add_common_args(parser)
    args = parser.parse_args(argv)
    if args.models and (precomputed(args) or args.checkpoint is None):
        usage_error('--models picks members of a CODC checkpoint: give '
                    'CONFIG and CHECKPOINT.')
    if precomputed(args):
        check_precomputed_args(args)
    else:
        check_checkpoint_args(args)
    if args.no_full and not args.low_shot_levels:
        usage_error('--no-full without --low-shot-levels leaves nothing to '
                    'do.')
    set_local_rank(args.local_rank)
    return args


def add_precomputed_args(parser: argparse.ArgumentParser) -> None:
    """Options for features and targets extracted elsewhere."""
    for split in ('train', 'test'):
        parser.add_argument(f'--{split}-features', metavar='FILE',
                            help=f'precomputed {split} features (.npy: one '
                            'level, .npz: feature1 ... feature5)')
        parser.add_argument(f'--{split}-targets', metavar='FILE',
                            help=f'precomputed {split} targets (.npy, or '
                            '.npz with an array "targets")')
    parser.add_argument('--target-convention', choices=PRECOMPUTED_CONVENTIONS,
                        help='what 1 / 0 / -1 mean in the target files '
                        '(required with them): voc_devkit = present / '
                        'difficult / absent, fair_benchmark = present / '
                        'absent / difficult')
    parser.add_argument('--level', type=int, default=5,
                        help='the level of .npy feature files (default 5)')


def precomputed(args: argparse.Namespace) -> bool:
    """Whether any precomputed file was given."""
    return any(getattr(args, name) for name in PRECOMPUTED_FILES)


def check_precomputed_args(args: argparse.Namespace) -> None:
    """Usage errors of the precomputed mode."""
    missing = [name for name in PRECOMPUTED_FILES if not getattr(args, name)]
    if missing:
        usage_error('precomputed features need all of --train-features, '
                    '--train-targets, --test-features and --test-targets; '
                    'missing: ' + ', '.join(
                        '--' + name.replace('_', '-') for name in missing))
    if args.target_convention is None:
        usage_error('--target-convention is required with precomputed '
                    'targets: voc_devkit (1 present, -1 absent, 0 '
                    'difficult) or fair_benchmark (1 present, 0 absent, -1 '
                    'difficult).')
    if args.config or args.no_checkpoint or args.load_features:
        usage_error('precomputed features take no CONFIG, CHECKPOINT, '
                    '--no-checkpoint or --load-features.')
    if args.launcher != 'none' or args.cfg_options:
        usage_error('precomputed features take no --launcher or '
                    '--cfg-options.')


def read_precomputed(args: argparse.Namespace) -> dict:
    """Features per level and targets from the precomputed files."""
    from mmodc.analysis.svm_benchmark import (
        read_feature_file,
        read_target_file,
    )
    return dict(
        train=read_feature_file(args.train_features, args.level),
        train_targets=read_target_file(args.train_targets,
                                       args.target_convention),
        test=read_feature_file(args.test_features, args.level),
        test_targets=read_target_file(args.test_targets,
                                      args.target_convention))


def save_features(features: dict, path: str) -> None:
    """Write extracted features, the targets as their two masks."""
    import torch
    saved = {key: value for key, value in features.items()
             if not key.endswith('_targets')}
    for split in ('train', 'test'):
        targets = features[f'{split}_targets']
        saved[f'{split}_positive'] = targets.positive
        saved[f'{split}_difficult'] = targets.difficult
    torch.save(saved, path)


def load_features(path: str) -> dict:
    """Read what :func:`save_features` wrote."""
    import torch

    from mmodc.evaluation.svm import SvmTargets
    saved = torch.load(path)
    features = dict(train=saved['train'], test=saved['test'])
    for split in ('train', 'test'):
        features[f'{split}_targets'] = SvmTargets(
            positive=saved[f'{split}_positive'],
            difficult=saved[f'{split}_difficult'])
    return features


def backbone_prefixes(args) -> list:
    """The checkpoint's key prefix of every backbone to evaluate:
    ``backbone.``, or ``members.<name>.backbone.`` per ``--models`` name
    (checked to be in the checkpoint)."""
    if not args.models:
        return ['backbone.']
    import torch

    # the keys only: memory-mapped, no tensor is read
    checkpoint = torch.load(args.checkpoint, map_location='cpu', mmap=True,
                            weights_only=False)
    keys = checkpoint.get('state_dict', checkpoint).keys()
    members = sorted({key.split('.')[1] for key in keys
                      if key.startswith('members.')})
    for name in args.models:
        if name not in members:
            usage_error(f'--models: {args.checkpoint} has no member {name!r}'
                        f'; its members are {members} (none: not a CODC '
                        'checkpoint).')
    return [f'members.{name}.backbone.' for name in args.models]


def build_model(cfg, args, prefix: str = 'backbone.'):
    """The multi-level model with the checkpoint's backbone weights (the
    keys under ``prefix``)."""
    import copy

    import torch
    from mmengine.runner import set_random_seed

    from mmodc.registry import MODELS
    set_random_seed(args.seed)
    cfg_model = copy.deepcopy(cfg.model)
    if args.checkpoint is None:
        cfg_model.backbone.pop('init_cfg', None)
    else:
        cfg_model.backbone.init_cfg = dict(
            type='Pretrained', checkpoint=args.checkpoint,
            prefix=prefix, strict=True)
    model = MODELS.build(cfg_model)
    model.init_weights()
    if torch.cuda.is_available():
        model = model.cuda()
    return model.eval()


def extract(cfg, args) -> dict:
    """Features per level and targets of trainval and test."""
    import torch
    from mmengine.runner import Runner

    from mmodc.analysis.svm_benchmark import (
        dataset_targets,
        extract_levels,
    )

    models = [build_model(cfg, args, prefix)
              for prefix in backbone_prefixes(args)]
    saved = {}
    for split, key in (('train', 'train_dataloader'),
                       ('test', 'test_dataloader')):
        if cfg.get(key) is None:
            usage_error(f'{args.config} has no {key}.')
        loader = Runner.build_dataloader(cfg[key])
        saved[f'{split}_targets'] = dataset_targets(loader.dataset)
        parts = [extract_levels(model, loader, model.neck.levels)
                 for model in models]
        saved[split] = {level: torch.cat([part[level] for part in parts],
                                         dim=1) for level in parts[0]}
    return saved


def solve(features: dict, args) -> dict:
    """Run the SVMs on the main process and write the draws."""
    import torch

    from mmodc.analysis.svm_benchmark import run_svm_benchmark
    from mmodc.evaluation.svm import (
        draw_low_shot_samples,
        load_low_shot_samples,
        save_low_shot_samples,
    )
    targets = features['train_targets']
    samples = None
    samples_file = osp.join(args.work_dir, 'low_shot_samples.npz')
    if args.low_shot_levels and args.samples:
        samples = load_low_shot_samples(args.samples, len(targets),
                                        targets.num_classes)
        # a copy as it is: its recorded seed is the one that drew it
        if osp.abspath(args.samples) != osp.abspath(samples_file):
            shutil.copyfile(args.samples, samples_file)
    elif args.low_shot_levels:
        samples = draw_low_shot_samples(targets, args.shots, args.draws,
                                        args.seed)
        save_low_shot_samples(samples, samples_file, args.seed)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    return run_svm_benchmark(
        features['train'], targets, features['test'],
        features['test_targets'],
        [] if args.no_full else (args.levels or sorted(features['train'])),
        args.low_shot_levels, samples,
        dtype=torch.float32 if args.float32 else torch.float64,
        device=torch.device(device))


def config_features(args: argparse.Namespace) -> Optional[dict]:
    """Features and targets of the config's datasets: extracted with the
    checkpoint (and saved) or, with ``--load-features``, read back.

    Returns:
        dict, optional: The features on the main process, None elsewhere.
    """
    from mmengine.dist import init_dist, is_main_process
    from mmengine.registry import init_default_scope
    cfg = load_config(args)
    args.work_dir = cfg.work_dir
    features_file = osp.join(args.work_dir, 'features.pt')
    if args.load_features:
        return load_features(features_file)
    if args.launcher != 'none':
        init_dist(args.launcher)
    init_default_scope(cfg.get('default_scope', 'mmodc'))
    set_dataloader_defaults(cfg, no_pin_memory=args.no_pin_memory)
    features = extract(cfg, args)
    if not is_main_process():
        return None
    mmengine.mkdir_or_exist(args.work_dir)
    save_features(features, features_file)
    return features


def main(argv: Optional[Sequence[str]] = None) -> Optional[dict]:
    """Extract (load or read) the features, run the SVMs, report.

    Args:
        argv (Sequence[str], optional): The arguments (default: sys.argv).

    Returns:
        dict, optional: The results on the main process, None elsewhere.
    """
    args = parse_args(argv)
    import_mmodc()
    from mmodc.analysis.svm_benchmark import svm_table
    if precomputed(args):
        args.work_dir = args.work_dir or PRECOMPUTED_WORK_DIR
        features = read_precomputed(args)
    else:
        features = config_features(args)
        if features is None:
            return None
    mmengine.mkdir_or_exist(args.work_dir)
    result = dict(config=args.config, checkpoint=args.checkpoint,
                  target_convention=args.target_convention,
                  **{name: getattr(args, name) for name in PRECOMPUTED_FILES},
                  **solve(features, args))
    print(svm_table(result))
    out = osp.join(args.work_dir, 'svm_voc07.json')
    with open(out, 'w') as file:
        json.dump(result, file, indent=1)
    print(f'Results written to {out}', file=sys.stderr)
    return result


if __name__ == '__main__':
    main()
