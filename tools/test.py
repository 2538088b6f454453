"""Evaluate a checkpoint on a config's test set with MMEngine's Runner.

Usage::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR]
        [--out FILE [--out-item {pred,metrics}]] [--no-pin-memory]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

    # the same through mim, from any directory
    mim test mmodc CONFIG --checkpoint CHECKPOINT [options]

    # several processes (GPUs, or CPU processes with gloo)
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [options]

The metrics are logged (and written to ``--out`` with ``--out-item
metrics``); ``--out FILE`` alone dumps the predictions as a pickle.
"""
import argparse

import mmengine
from mmengine.config import Config

from _runner_setup import (
    add_common_args,
    build_runner,
    import_mmodc,
    load_config,
    set_dataloader_defaults,
    set_local_rank,
)


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Test a checkpoint (mmodc / MMEngine Runner).')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file (path or URL)')
    parser.add_argument(
        '--out', help='file to write the predictions (.pkl) or metrics to')
    parser.add_argument(
        '--out-item',
        choices=['pred', 'metrics'],
        default='pred',
        help='what --out receives (default: pred)')
    add_common_args(parser)
    args = parser.parse_args()
    set_local_rank(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> None:
    """Apply the test options to the config.

    Args:
        cfg (mmengine.Config): The loaded config, changed in place.
        args (argparse.Namespace): Parsed arguments.
    """
    cfg.load_from = args.checkpoint
    set_dataloader_defaults(
        cfg, names=('test_dataloader', ), no_pin_memory=args.no_pin_memory)


def main() -> None:
    """Test."""
    args = parse_args()
    import_mmodc()
    cfg = load_config(args)
    merge_args(cfg, args)
    runner = build_runner(cfg)
    if args.out and args.out_item == 'pred':
        from mmengine.evaluator import DumpResults
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    metrics = runner.test()
    if args.out and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)


if __name__ == '__main__':
    main()
