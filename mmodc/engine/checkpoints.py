"""Which checkpoint a run resumes from: the newest complete one.

A crash while saving (or a full disk) leaves a truncated or empty newest
checkpoint; torch then fails with "PytorchStreamReader failed reading zip
archive", naming no file. These functions check checkpoint files before
the Runner loads one, skip the incomplete ones with the reason, and name
the file when an explicitly given one is bad.
"""
import glob
import os
import os.path as osp
import zipfile
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from torch import nn

from mmodc.models.utils.memory_shards import LAYOUT_KEY, shard_folder

#: The file MMEngine's CheckpointHook writes with the newest checkpoint.
POINTER = 'last_checkpoint'


#: The config fields that set each dimension of a state-dict entry, to
#: name them when a checkpoint does not fit the model.
SIZE_FIELDS = {
    'memory_bank.feature_bank':
    ('model.memory_bank.length', 'model.memory_bank.feat_dim'),
    'memory_bank.centroids':
    ('model.memory_bank.num_classes', 'model.memory_bank.feat_dim'),
    'head.fc_cls.weight': ('model.head.num_classes', 'model.head.in_channels'),
    'head.fc_cls.bias': ('model.head.num_classes', ),
    'head.prototypes': ('model.head.num_classes', 'model.head.in_channels'),
}


class IncompleteCheckpointError(OSError):
    """A checkpoint file that cannot be a complete checkpoint."""


class IncompatibleCheckpointError(ValueError):
    """A complete checkpoint of a run that the current one cannot go on
    from (another algorithm, K, feature dimension or dataset length)."""


def check_complete(path: str) -> None:
    """Raise unless ``path`` is a complete ``torch.save`` file, and so are
    the memory shard files beside it, if it has any
    (:mod:`mmodc.models.utils.memory_shards`).

    The zip container torch writes ends with a directory of its members;
    a truncated file has none, and every member's CRC is checked, so a
    file damaged in the middle is found too (this reads the file once).

    Args:
        path (str): The checkpoint.

    Raises:
        IncompleteCheckpointError: Missing, empty, truncated or damaged,
            or with a missing or incomplete shard, with the path and the
            reason.
    """
    _check_torch_file(path)
    folder = shard_folder(path)
    if not osp.isdir(folder):
        return
    shards = [name for name in os.listdir(folder) if name.endswith('.pth')]
    world_sizes = {name.rsplit('-of-', 1)[-1][:-len('.pth')]
                   for name in shards}
    expected = ({f'shard-{rank}-of-{size}.pth'
                 for rank in range(int(size))} for size in world_sizes
                if size.isdigit())
    missing = sorted(set().union(*expected) - set(shards))
    if missing:
        raise IncompleteCheckpointError(
            f'checkpoint {path}: memory shard {osp.join(folder, missing[0])} '
            'is missing')
    for name in shards:
        _check_torch_file(osp.join(folder, name))


def _check_torch_file(path: str) -> None:
    """Raise unless ``path`` is a complete ``torch.save`` file."""
    if not osp.isfile(path):
        raise IncompleteCheckpointError(f'checkpoint {path}: no such file')
    if osp.getsize(path) == 0:
        raise IncompleteCheckpointError(f'checkpoint {path}: empty file '
                                        '(0 bytes)')
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise IncompleteCheckpointError(
            f'checkpoint {path}: truncated or not a torch checkpoint '
            f'({error}; {osp.getsize(path)} bytes)') from error
    if damaged is not None:
        raise IncompleteCheckpointError(
            f'checkpoint {path}: damaged (bad CRC in {damaged})')


def checkpoint_candidates(work_dir: str) -> List[str]:
    """The ``.pth`` files of a work dir, newest first: the one the pointer
    file names, then the others by modification time.

    Args:
        work_dir (str): The run's work directory.

    Returns:
        list[str]: Paths.
    """
    files = sorted(glob.glob(osp.join(work_dir, '*.pth')),
                   key=osp.getmtime, reverse=True)
    pointer = osp.join(work_dir, POINTER)
    if osp.isfile(pointer):
        with open(pointer) as file:
            named = file.read().strip()
        if named:
            files = [named] + [path for path in files
                               if osp.abspath(path) != osp.abspath(named)]
    return files


def newest_complete_checkpoint(
        work_dir: str) -> Tuple[Optional[str], List[Tuple[str, str]]]:
    """The newest complete checkpoint of a work dir.

    Args:
        work_dir (str): The run's work directory.

    Returns:
        tuple: Its path (None if there is none) and ``(path, reason)`` of
        each newer file skipped.
    """
    skipped = []
    for path in checkpoint_candidates(work_dir):
        try:
            check_complete(path)
        except IncompleteCheckpointError as error:
            skipped.append((path, str(error)))
            continue
        return path, skipped
    return None, skipped


def resolve_resume_checkpoint(cfg: Config) -> None:
    """Choose what ``cfg.resume`` resumes from, before the Runner is built.

    With ``resume=True`` and no ``load_from`` (``--resume`` alone): the
    newest complete checkpoint of ``cfg.work_dir``, each newer incomplete
    file logged with the reason (MMEngine would take the newest and fail
    on it). With ``load_from`` given: that file, checked, or an error that
    names it.

    Args:
        cfg (Config): The config, changed in place (``load_from``).
    """
    if not cfg.get('resume'):
        return
    if cfg.get('load_from'):
        if '://' not in cfg.load_from:
            check_complete(cfg.load_from)
        return
    path, skipped = newest_complete_checkpoint(cfg.work_dir)
    for bad, reason in skipped:
        print_log(f'resume: skipped {reason}', logger='current',
                  level=30)  # WARNING
    if path is None:
        return  # nothing to resume: a fresh start, as MMEngine does
    if skipped:
        print_log(f'resume: going on from {path}, the newest complete '
                  'checkpoint', logger='current', level=30)
    cfg.load_from = path


def check_resume_compatible(model: nn.Module, cfg: Config, path: str) -> None:
    """Refuse to resume ``model`` from a checkpoint of another kind of run.

    MMEngine resumes with ``strict=False``: a checkpoint of another
    algorithm, K, feature dimension or dataset length would load in part,
    with warnings only. This compares the saved config's algorithm and the
    saved tensors' shapes with the model's first (the file is memory-mapped,
    not read).

    Args:
        model (nn.Module): The model about to be resumed (unwrapped).
        cfg (Config): Its config.
        path (str): A complete local checkpoint.

    Raises:
        IncompatibleCheckpointError: Naming the file, each config field
            that differs with both values, and what to do.
    """
    checkpoint = torch.load(path, map_location='cpu', mmap=True,
                            weights_only=False)
    differences = _algorithm_difference(checkpoint, cfg)
    differences.update(_size_differences(_saved_shapes(checkpoint),
                                         _model_shapes(model)))
    if not differences:
        return
    lines = ''.join(f'\n  {field}: {saved} in the checkpoint, {current} '
                    'in this run' for field, (saved, current)
                    in differences.items())
    raise IncompatibleCheckpointError(
        f'cannot resume from {path}: it was saved by an incompatible run:'
        f'{lines}\nResume with the config and data of that run, or start a '
        'new run in another --work-dir (without --resume).')


def _algorithm_difference(checkpoint: dict, cfg: Config) -> Dict[str, tuple]:
    """``{'model.type': (saved, current)}`` if the algorithms differ."""
    saved_cfg = checkpoint.get('meta', {}).get('cfg')
    if not saved_cfg:
        return {}
    try:
        saved = Config.fromstring(saved_cfg, '.py').model.type
    except (SyntaxError, AttributeError, KeyError):
        return {}  # a config MMEngine cannot parse back: shapes only
    current = cfg.model.type
    return {} if saved == current else {'model.type': (saved, current)}


def _saved_shapes(checkpoint: dict) -> Dict[str, torch.Size]:
    """The shape of each tensor of a checkpoint's state dict, memory banks
    kept in shard files included at their whole size."""
    shapes = {key: value.shape
              for key, value in checkpoint['state_dict'].items()}
    layout = checkpoint.get('meta', {}).get(LAYOUT_KEY)
    for prefix, sizes in (layout or {}).get('memories', {}).items():
        shapes.update(_whole_bank_shapes(prefix, sizes['length'],
                                         sizes['feat_dim']))
    return shapes


def _model_shapes(model: nn.Module) -> Dict[str, torch.Size]:
    """The shape of each tensor of a model's state dict, the banks of a
    sharded memory at their whole size."""
    shapes = {key: value.shape for key, value in model.state_dict().items()}
    for name, module in model.named_modules():
        if getattr(module, 'is_sharded', False):
            shapes.update(_whole_bank_shapes(f'{name}.', module.length,
                                             module.feat_dim))
    return shapes


def _whole_bank_shapes(prefix: str, length: int,
                       feat_dim: int) -> Dict[str, torch.Size]:
    return {f'{prefix}feature_bank': torch.Size((length, feat_dim)),
            f'{prefix}label_bank': torch.Size((length, ))}


def _size_differences(saved: dict, current: dict) -> Dict[str, tuple]:
    """Config field (or state-dict key) -> (saved, current) size of every
    tensor whose shape differs (both given as shapes by key), and the
    model's tensors the checkpoint lacks."""
    differences = {}
    for key in (key for key in current if key in saved):
        old, new = saved[key], current[key]
        fields = SIZE_FIELDS.get(key)
        if old == new:
            continue
        if fields is None or len(old) != len(fields):
            differences[key] = (tuple(old), tuple(new))
            continue
        differences.update((field, (before, after))
                           for field, before, after in zip(fields, old, new)
                           if before != after)
    missing = [key for key in current if key not in saved]
    if missing:
        shown = ', '.join(missing[:3])
        if len(missing) > 3:
            shown += f' and {len(missing) - 3} more'
        differences['state_dict'] = (f'no {shown}', 'needed')
    return differences
