"""Train a model from a config with MMEngine's Runner.

Usage::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]]
        [--amp] [--no-validate] [--auto-scale-lr] [--no-pin-memory]
        [--no-persistent-workers] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}]

    # the same through mim, from any directory, CONFIG a path or a file name
    # of mmodc's configs
    mim train mmodc CONFIG [options]

    # several processes (GPUs, or CPU processes with gloo)
    bash tools/dist_train.sh CONFIG NUM_PROCESSES [options]

Logs and checkpoints go to ``--work-dir``, else the config's ``work_dir``,
else ``./work_dirs/<config name>``. ``--resume`` alone resumes from the
latest checkpoint there. Without CUDA everything runs on the CPU.
"""
import argparse

from mmengine.config import Config

from _runner_setup import (
    add_common_args,
    build_runner,
    import_mmodc,
    load_config,
    set_dataloader_defaults,
    set_local_rank,
    usage_error,
)


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Train a model (mmodc / MMEngine Runner).')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume training: from CHECKPOINT if given, else from the '
        'latest checkpoint in the work directory')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (needs a CUDA, NPU or MLU device)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the real batch size over the '
        "config's auto_scale_lr.base_batch_size")
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='do not keep data loader workers alive between epochs')
    add_common_args(parser)
    args = parser.parse_args()
    set_local_rank(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> None:
    """Apply the training options to the config.

    Args:
        cfg (mmengine.Config): The loaded config, changed in place.
        args (argparse.Namespace): Parsed arguments.
    """
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    if args.amp:
        from mmengine.device import get_device
        if get_device() in ('cpu', 'mps'):
            usage_error('--amp needs a CUDA, NPU or MLU device and there '
                        "is none here (MMEngine's AmpOptimWrapper refuses "
                        'the CPU); train without --amp.')
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            usage_error(
                f'--amp does not work with optim_wrapper type {wrapper}.')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        if not cfg.get('auto_scale_lr', {}).get('base_batch_size'):
            usage_error('--auto-scale-lr needs auto_scale_lr = dict('
                        'base_batch_size=...) in the config.')
        cfg.auto_scale_lr.enable = True

    set_dataloader_defaults(
        cfg,
        no_pin_memory=args.no_pin_memory,
        no_persistent_workers=args.no_persistent_workers)


def main() -> None:
    """Train."""
    args = parse_args()
    import_mmodc()
    cfg = load_config(args)
    merge_args(cfg, args)
    runner = build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    main()
