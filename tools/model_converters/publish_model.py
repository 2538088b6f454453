"""Turn an mmodc training checkpoint into a file to publish.

Usage::

    python tools/model_converters/publish_model.py IN_FILE OUT_FILE \
        [--no-memory]

    # work_dirs/odc/epoch_440.pth -> odc_in1k_<YYYYMMDD>-<sha256[:8]>.pth
    python tools/model_converters/publish_model.py \
        work_dirs/odc/epoch_440.pth odc_in1k.pth --no-memory

The training state (``optimizer``, ``param_schedulers``, ``message_hub``,
and the random number generator states ``meta['random_states']`` that
``RandomStatesHook`` saves for an exact resume) is dropped; the rest of
``meta`` and ``state_dict`` are kept. The file must load with
``torch.load(..., weights_only=True)``, as downloads are loaded, or it is
not written. ``--no-memory`` also drops
the ODC memory bank (the ``memory_bank.*`` buffers, 1.3 GB on ImageNet),
which only training needs, and sets ``meta['memory_bank_dropped']``;
without it, the banks of a sharded memory (``<IN_FILE>.memory/`` shard
files) are put back into the state dict, so the file stands alone. The
file is saved as ``<OUT_FILE stem>_<YYYYMMDD>-<sha256[:8]>.pth``, the sha256
of its bytes, the name :func:`mmodc.utils.download_checkpoint` verifies a
download by; the final path is printed.
"""
import argparse
import datetime
import os
import os.path as osp
import pickle
import sys
from typing import NoReturn, Optional, Sequence

import torch

from mmodc.models.utils.memory_shards import with_whole_memory
from mmodc.utils.download import file_sha256

# tools/ holds what the tools share
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _runner_setup import usage_error, write_checkpoint  # noqa: E402

TRAINING_STATE = ('optimizer', 'param_schedulers', 'message_hub')
#: Training state inside ``meta`` (numpy RNG states: not weights-only).
META_TRAINING_STATE = ('random_states', )
MEMORY_PREFIX = 'memory_bank.'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): The arguments (default: sys.argv).

    Returns:
        argparse.Namespace: ``in_file``, ``out_file`` and ``no_memory``.
    """
    parser = argparse.ArgumentParser(
        description='Strip an mmodc training checkpoint for publishing and '
        'name it <stem>_<YYYYMMDD>-<sha256[:8]>.pth.')
    parser.add_argument('in_file', help='training checkpoint')
    parser.add_argument(
        'out_file',
        help='output path; its name gets _<YYYYMMDD>-<sha256[:8]> before '
        '.pth')
    parser.add_argument(
        '--no-memory',
        action='store_true',
        help='also drop the ODC memory bank (memory_bank.* buffers), '
        'which only training needs')
    return parser.parse_args(argv)


def not_a_checkpoint(path: str, detail: str) -> NoReturn:
    """Exit with a usage error: ``path`` is no training checkpoint.

    Args:
        path (str): The file given as IN_FILE.
        detail (str): What is wrong with it.
    """
    usage_error(f"{path} is not an MMEngine checkpoint (a dict with a "
                f"'state_dict'); {detail}. Give a checkpoint saved by "
                'training.')


def load_training_checkpoint(path: str) -> dict:
    """Load a training checkpoint on the CPU, the whole memory banks of a
    sharded memory read from its shard files.

    Args:
        path (str): The checkpoint file.

    Returns:
        dict: The checkpoint, with a ``state_dict``.
    """
    if not osp.isfile(path):
        usage_error(f'{path} not found: give the path of a training '
                    'checkpoint (e.g. work_dirs/<config>/epoch_<N>.pth).')
    try:
        # our own training checkpoints: they hold more than tensors
        checkpoint = torch.load(path, map_location='cpu', weights_only=False)
    except (pickle.UnpicklingError, EOFError, RuntimeError) as error:
        not_a_checkpoint(path, f'torch.load failed: {error}')
    if not isinstance(checkpoint, dict):
        not_a_checkpoint(path, f'it holds a {type(checkpoint).__name__}')
    if 'state_dict' not in checkpoint:
        not_a_checkpoint(path, f'its keys are {list(checkpoint)}')
    return with_whole_memory(checkpoint, path)


def strip_checkpoint(checkpoint: dict, drop_memory: bool) -> dict:
    """A copy of a checkpoint without its training state.

    Args:
        checkpoint (dict): The training checkpoint.
        drop_memory (bool): Also drop the ``memory_bank.*`` buffers and
            record that in ``meta['memory_bank_dropped']``.

    Returns:
        dict: The checkpoint to publish.
    """
    published = {
        key: value
        for key, value in checkpoint.items() if key not in TRAINING_STATE
    }
    published['meta'] = {
        key: value
        for key, value in (checkpoint.get('meta') or {}).items()
        if key not in META_TRAINING_STATE
    }
    if drop_memory:
        published['state_dict'] = {
            key: value
            for key, value in checkpoint['state_dict'].items()
            if not key.startswith(MEMORY_PREFIX)
        }
        published['meta']['memory_bank_dropped'] = True
    return published


def published_path(out_file: str, sha256: str, date: datetime.date) -> str:
    """``<out_file stem>_<YYYYMMDD>-<sha256[:8]>.pth``.

    Args:
        out_file (str): The output path given.
        sha256 (str): The sha256 hex digest of the saved file.
        date (datetime.date): The publishing date.

    Returns:
        str: The final path.
    """
    stem = out_file[:-len('.pth')] if out_file.endswith('.pth') else out_file
    return f'{stem}_{date:%Y%m%d}-{sha256[:8]}.pth'


def unpickler_message(error: pickle.UnpicklingError) -> str:
    """The line of torch's weights-only error that names the object."""
    lines = str(error).splitlines()
    return next((line.strip() for line in lines if 'Unsupported' in line),
                lines[0] if lines else repr(error))


def check_weights_only(path: str) -> None:
    """Remove ``path`` and stop if it does not load with ``weights_only``.

    Downloaded checkpoints are loaded with ``weights_only=True``
    (:func:`mmodc.apis.get_model`), so a published file must hold tensors
    and plain containers only.

    Args:
        path (str): The saved file.
    """
    try:
        torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        os.remove(path)
        usage_error(
            'the checkpoint holds objects that a weights_only load refuses, '
            'so its downloads would not load; remove them from its meta '
            f'first. ({unpickler_message(error)})')


def save_published(checkpoint: dict, out_file: str) -> str:
    """Save a checkpoint and rename it after its date and sha256.

    Args:
        checkpoint (dict): The checkpoint to publish.
        out_file (str): The output path given.

    Returns:
        str: The final path.
    """
    write_checkpoint(checkpoint, out_file)
    check_weights_only(out_file)
    final = published_path(out_file, file_sha256(out_file),
                           datetime.date.today())
    os.replace(out_file, final)
    return final


def main(argv: Optional[Sequence[str]] = None) -> str:
    """Publish a training checkpoint.

    Args:
        argv (Sequence[str], optional): The arguments (default: sys.argv).

    Returns:
        str: The path of the published file.
    """
    args = parse_args(argv)
    if osp.abspath(args.in_file) == osp.abspath(args.out_file):
        usage_error(f'OUT_FILE {args.out_file} is IN_FILE: give another '
                    'path, the training checkpoint would be lost.')
    checkpoint = load_training_checkpoint(args.in_file)
    final = save_published(
        strip_checkpoint(checkpoint, args.no_memory), args.out_file)
    print(final)
    return final


if __name__ == '__main__':
    main()
