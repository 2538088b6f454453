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
from typing import List, Optional, Tuple

from mmengine.config import Config
from mmengine.logging import print_log

#: The file MMEngine's CheckpointHook writes with the newest checkpoint.
POINTER = 'last_checkpoint'


class IncompleteCheckpointError(OSError):
    """A checkpoint file that cannot be a complete checkpoint."""


def check_complete(path: str) -> None:
    """Raise unless ``path`` is a complete ``torch.save`` file.

    The zip container torch writes ends with a directory of its members;
    a truncated file has none, and every member's CRC is checked, so a
    file damaged in the middle is found too (this reads the file once).

    Args:
        path (str): The checkpoint.

    Raises:
        IncompleteCheckpointError: Missing, empty, truncated or damaged,
            with the path and the reason.
    """
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


def replace_atomically(source: str, target: str) -> None:
    """Flush ``source`` to disk and rename it to ``target`` (atomic on one
    file system), then flush the folder entry.

    Args:
        source (str): A file just written.
        target (str): Its final name, in the same folder.
    """
    with open(source, 'rb') as file:
        os.fsync(file.fileno())
    os.replace(source, target)
    folder = os.open(osp.dirname(osp.abspath(target)), os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
