"""What ``tools/train.py``, ``tools/test.py`` and the benchmark tools share
(not a script).

Command-line options common to both, and the config changes they imply:
the default work directory, data loader defaults that work with
``num_workers=0``, and the gloo backend for ``--launcher pytorch`` on a
machine without CUDA. torch is imported inside the functions, so
``train.py -h`` (which ``mim train`` runs first) answers at once.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Any, Callable, Dict, Iterable, NoReturn, Sequence

from mmengine.config import Config, ConfigDict, DictAction

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def import_mmodc() -> None:
    """Import mmodc, which registers its modules and applies its fixes.

    Raises:
        SystemExit: With install instructions if mmodc is not installed.
    """
    try:
        import mmodc  # noqa: F401
    except ImportError as error:
        if error.name != 'mmodc':
            raise
        sys.exit('mmodc is not installed: run `pip install -e .` (or '
                 '`bash tools/install_deps.sh`) in the mmodc repository.')


def usage_error(message: str) -> NoReturn:
    """Exit like argparse does on a bad option (status 2).

    Args:
        message (str): What is wrong and what to do instead.
    """
    print(f'{osp.basename(sys.argv[0])}: error: {message}', file=sys.stderr)
    sys.exit(2)


def load_work_dirs(work_dirs: Sequence[str], load: Callable[[str], Any],
                   tool: str) -> Dict[str, Any]:
    """What ``load`` reads from each work dir, by the work dir's name.

    Args:
        work_dirs (Sequence[str]): Training work dirs.
        load (Callable[[str], Any]): Reads one work dir; raises
            FileNotFoundError or ValueError naming what is missing.
        tool (str): The tool's name, for its error messages.

    Returns:
        dict[str, Any]: Work dir basename -> what was read, in order.

    Raises:
        SystemExit: Two work dirs share a name, or one cannot be read.
    """
    runs = {}
    for work_dir in work_dirs:
        name = osp.basename(osp.normpath(work_dir))
        if name in runs:
            sys.exit(f'{tool}: two work dirs are named {name}.')
        try:
            runs[name] = load(work_dir)
        except (FileNotFoundError, ValueError) as error:
            sys.exit(f'{tool}: {error}')
    return runs


def write_checkpoint(checkpoint: dict, path: str) -> None:
    """Save a checkpoint dict, creating its directory.

    Args:
        checkpoint (dict): What to save (``meta``, ``state_dict``).
        path (str): The ``.pth`` file to write.
    """
    import torch
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    torch.save(checkpoint, path)


def docstring_parser(doc: str) -> argparse.ArgumentParser:
    """A parser whose ``--help`` shows a tool's module docstring as written.

    Args:
        doc (str): The tool's ``__doc__`` (usage and explanation).

    Returns:
        argparse.ArgumentParser: The parser, no arguments added yet.
    """
    return argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Add the options that train.py and test.py share.

    Args:
        parser (argparse.ArgumentParser): The script's parser.
    """
    parser.add_argument(
        '--work-dir',
        help='directory for logs and checkpoints (default: '
        './work_dirs/<config name>)')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='no pinned memory in the data loaders (pinned only with CUDA)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs, e.g. '
        'train_dataloader.batch_size=32 model.head.num_classes=100 '
        'a.list=[1,2] (no spaces inside a value)')
    add_launcher_args(parser)


def add_launcher_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--launcher`` and the hidden ``--local-rank`` that
    ``torch.distributed.launch`` passes.

    Args:
        parser (argparse.ArgumentParser): The script's parser.
    """
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher; pytorch for several processes on one or more '
        'machines (gloo backend when there is no CUDA)')
    # torch.distributed.launch passes --local-rank (older: --local_rank)
    parser.add_argument(
        '--local_rank', '--local-rank', type=int, default=0,
        help=argparse.SUPPRESS)


def add_checkpoint_args(parser: argparse.ArgumentParser, config_help: str,
                        checkpoint_help: str,
                        optional_config: bool = False) -> None:
    """Add the positional ``config``, an optional ``checkpoint`` and
    ``--no-checkpoint``, for the tools that evaluate a checkpoint or the
    freshly initialised network.

    Check the parsed options with :func:`check_checkpoint_args`.

    Args:
        parser (argparse.ArgumentParser): The script's parser.
        config_help (str): Help of ``config``.
        checkpoint_help (str): Help of ``checkpoint``.
        optional_config (bool): ``config`` may be left out (for a tool
            with another source of features). Defaults to False.
    """
    parser.add_argument('config', nargs='?' if optional_config else None,
                        help=config_help)
    parser.add_argument('checkpoint', nargs='?', help=checkpoint_help)
    parser.add_argument(
        '--no-checkpoint',
        action='store_true',
        help='evaluate the freshly initialised network instead')


def check_checkpoint_args(args: argparse.Namespace) -> None:
    """Exit with a usage error unless exactly one of ``checkpoint`` and
    ``--no-checkpoint`` is given (see :func:`add_checkpoint_args`).

    Args:
        args (argparse.Namespace): The parsed options.
    """
    if (args.checkpoint is None) == (not args.no_checkpoint):
        usage_error('give a CHECKPOINT or --no-checkpoint (one of them).')


def set_local_rank(local_rank: int) -> None:
    """Export ``LOCAL_RANK`` unless the launcher already did.

    Args:
        local_rank (int): The value of ``--local-rank``.
    """
    os.environ.setdefault('LOCAL_RANK', str(local_rank))


def load_config(args: argparse.Namespace) -> Config:
    """Load the config, apply ``--cfg-options``, ``--work-dir`` and
    ``--launcher``.

    ``default_scope`` defaults to ``'mmodc'`` so that mmodc's, MMPretrain's
    and MMEngine's types can all be named.

    Args:
        args (argparse.Namespace): Parsed arguments of train.py or test.py.

    Returns:
        mmengine.Config: The config.
    """
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.setdefault('default_scope', 'mmodc')
    # work_dir: command line > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(args.config)
    # several processes work without CUDA too: `import mmodc` makes the
    # pytorch launcher use gloo and the DDP wrapper accept CPU models
    cfg.launcher = args.launcher
    return cfg


def default_work_dir(config: str) -> str:
    """``./work_dirs/<config file name without .py>``.

    Args:
        config (str): Path of the config, relative or absolute.

    Returns:
        str: The work directory.
    """
    name = osp.splitext(osp.basename(osp.normpath(config)))[0]
    return osp.join('.', 'work_dirs', name)


def set_dataloader_defaults(cfg: Config,
                            names: Iterable[str] = DATALOADERS,
                            no_pin_memory: bool = False,
                            no_persistent_workers: bool = False) -> None:
    """Fill in data loader settings the config leaves out.

    Defaults, as in MMPretrain's tools: ``default_collate`` batches,
    persistent workers, pinned memory; but memory is pinned only with CUDA,
    and workers are never persistent with ``num_workers=0`` (PyTorch refuses
    that combination).

    Args:
        cfg (mmengine.Config): The config, changed in place.
        names (Iterable[str]): The data loader fields to treat.
        no_pin_memory (bool): Never pin memory.
        no_persistent_workers (bool): Never keep workers alive.
    """
    import torch

    for name in names:
        if cfg.get(name) is None:
            continue
        loader = ConfigDict(
            pin_memory=torch.cuda.is_available(),
            persistent_workers=True,
            collate_fn=dict(type='default_collate'))
        loader.update(cfg[name])
        if no_pin_memory:
            loader.pin_memory = False
        if no_persistent_workers or not loader.get('num_workers', 0):
            loader.persistent_workers = False
        cfg[name] = loader


def build_runner(cfg: Config) -> Any:
    """Build the runner: ``cfg.runner_type`` from mmodc's RUNNERS registry,
    or MMEngine's :class:`~mmengine.runner.Runner`, after putting
    ``image_folder`` into an image-folder config's datasets, wrapping
    them to skip unreadable images with ``skip_bad_samples = True``,
    replacing the config's ``'auto'`` sizes by those of its training set
    and, when
    resuming, choosing the newest complete checkpoint and refusing one of
    an incompatible run (:func:`mmodc.engine.resolve_image_folder`,
    :func:`mmodc.engine.apply_skip_bad_samples`,
    :func:`mmodc.engine.resolve_data_sizes`,
    :func:`mmodc.engine.checkpoints.resolve_resume_checkpoint`,
    :func:`mmodc.engine.checkpoints.check_resume_compatible`).

    Args:
        cfg (mmengine.Config): The complete config.

    Returns:
        mmengine.runner.Runner: The runner.
    """
    from mmengine.runner import Runner

    from mmodc.engine import (
        apply_skip_bad_samples,
        resolve_data_sizes,
        resolve_image_folder,
        unwrap_model,
    )
    from mmodc.engine.checkpoints import (
        check_resume_compatible,
        resolve_resume_checkpoint,
    )
    from mmodc.registry import RUNNERS

    resolve_image_folder(cfg)
    apply_skip_bad_samples(cfg)
    resolve_data_sizes(cfg)
    resolve_resume_checkpoint(cfg)
    runner = (RUNNERS.build(cfg)
              if 'runner_type' in cfg else Runner.from_cfg(cfg))
    if cfg.get('resume') and cfg.get('load_from') and (
            '://' not in cfg.load_from):
        check_resume_compatible(unwrap_model(runner.model), cfg,
                                cfg.load_from)
    return runner
