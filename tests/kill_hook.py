"""Test-only: kill the training process with SIGKILL at one moment.

Loaded by test configs through ``custom_imports`` (tests/ on the path). The
moment comes from the environment variable ``MMODC_KILL_AT``:

- ``before_iter:N`` / ``after_iter:N``: before iteration ``N`` (0-based,
  counted over the whole run) starts, or after it ended (the memory
  updated, no checkpoint yet);
- ``saving:E:F``: while epoch ``E``'s checkpoint is written, after the
  fraction ``F`` of its bytes;
- ``saved:E``: epoch ``E``'s checkpoint renamed into place, the pointer not
  yet moved;
- ``pointed:E``: the pointer moved to epoch ``E``'s checkpoint, the old
  checkpoints not yet removed.
"""
import os
import os.path as osp
import signal

from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import Hook

import mmodc.engine.hooks.safe_checkpoint_hook as safe_checkpoint_hook
from mmodc.registry import HOOKS

MOMENT = os.environ.get('MMODC_KILL_AT', '')
WHERE, _, WHEN = MOMENT.partition(':')


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class KillHook(Hook):
    """SIGKILL before or after the iteration ``MMODC_KILL_AT`` names."""

    priority = 'LOWEST'

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if WHERE == 'before_iter' and runner.iter == int(WHEN):
            die()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if WHERE == 'after_iter' and runner.iter == int(WHEN):
            die()


def put_then_die(put):
    """``LocalBackend.put`` that writes part of the named checkpoint's
    temporary file and dies."""
    epoch, _, fraction = WHEN.partition(':')

    def put_part(self, obj: bytes, filepath) -> None:
        if osp.basename(filepath) != f'.epoch_{epoch}.pth.tmp':
            return put(self, obj, filepath)
        with open(filepath, 'wb') as file:
            file.write(obj[:int(len(obj) * float(fraction))])
            file.flush()
            os.fsync(file.fileno())
        die()

    return put_part


def replace_then_die(replace):
    """``replace_atomically`` that dies right after the rename the moment
    names."""

    def replace_and_maybe_die(source: str, target: str) -> None:
        replace(source, target)
        name = osp.basename(target)
        if WHERE == 'saved' and name == f'epoch_{WHEN}.pth':
            die()
        if WHERE == 'pointed' and name == 'last_checkpoint':
            with open(target) as file:
                if osp.basename(file.read()) == f'epoch_{WHEN}.pth':
                    die()

    return replace_and_maybe_die


if WHERE == 'saving':
    LocalBackend.put = put_then_die(LocalBackend.put)
if WHERE in ('saved', 'pointed'):
    safe_checkpoint_hook.replace_atomically = replace_then_die(
        safe_checkpoint_hook.replace_atomically)
