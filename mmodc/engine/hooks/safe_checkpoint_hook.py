"""SafeCheckpointHook: checkpoints that a crash cannot leave half written."""
import os
import os.path as osp
from collections import deque

from mmengine.dist import barrier, is_main_process
from mmengine.hooks import CheckpointHook

from mmodc.engine.checkpoints import POINTER
from mmodc.models.utils.memory_shards import (
    LAYOUT_KEY,
    load_memory_rows,
    remove_memory_shards,
    remove_other_shards,
    save_memory_shards,
    without_sharded_banks,
)
from mmodc.registry import HOOKS
from mmodc.utils.atomic_files import replace_atomically
from ..extractor import unwrap_model


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook``, crash-safe on a local disk.

    MMEngine writes the checkpoint straight to its final name, and removes
    the oldest kept checkpoint *before* saving the new one: a crash while
    saving leaves a truncated newest file and one complete checkpoint
    fewer. This hook, with the same arguments:

    1. writes the checkpoint (memory banks included) to ``.<name>.tmp`` in
       the same folder, flushes it and renames it into place;
    2. then points ``last_checkpoint`` at it (written and renamed the same
       way);
    3. only then removes checkpoints beyond ``max_keep_ckpts`` (with their
       memory shard folders, :mod:`mmodc.models.utils.memory_shards`).

    The banks of a :class:`ShardedODCMemory` are written by every rank to
    ``<checkpoint>.memory/shard-<r>-of-<W>.pth`` before rank 0 writes the
    checkpoint, which records their layout; on loading, each rank takes
    the rows its memory holds, whatever the number of processes that saved
    them (:mod:`mmodc.models.utils.memory_shards`).

    A kill at any moment leaves the previous checkpoints and the pointer
    intact, or the new checkpoint complete. Checkpoints to another backend
    (``backend_args``, remote ``out_dir``) are saved as MMEngine does.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self.max_keep_ckpts > 0:
            # MMEngine bounds this deque, so an append would forget the
            # oldest id without removing its file; here ids leave the deque
            # only when their file is removed
            self.keep_ckpt_ids = deque(self.keep_ckpt_ids)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if self.backend_args or '://' in str(self.out_dir):
            return super()._save_checkpoint_with_step(runner, step, meta)
        self._remember_checkpoint(runner, step)
        filename = self.filename_tmpl.format(step)
        partial = f'.{filename}.tmp'
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        meta = self._save_memory_shards(runner, meta)
        runner.save_checkpoint(
            self.out_dir, partial, self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta,
            by_epoch=self.by_epoch, backend_args=self.backend_args,
            **self.args)
        if is_main_process():
            replace_atomically(osp.join(self.out_dir, partial),
                               self.last_ckpt)
            self._point_at_last_checkpoint(runner)
        self._forget_old_checkpoints(runner)

    def _save_memory_shards(self, runner, meta: dict) -> dict:
        """Every rank writes its rows of the sharded memories beside the
        checkpoint (MMEngine saves on rank 0 only); once all are on disk,
        ``meta`` records their layout."""
        layout = save_memory_shards(unwrap_model(runner.model),
                                    self.last_ckpt, runner.iter)
        if layout is None:
            return meta
        barrier()
        if is_main_process():
            remove_other_shards(self.last_ckpt, layout['world_size'])
        return dict(meta or {}, **{LAYOUT_KEY: layout})

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Leave out the banks that the shard files hold."""
        without_sharded_banks(checkpoint)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Give each memory its rows: from the shard files of a sharded
        checkpoint (with any number of processes), or a sharded memory's
        share of whole banks."""
        load_memory_rows(unwrap_model(runner.model), checkpoint,
                         runner._load_from)

    def _remember_checkpoint(self, runner, step: int) -> None:
        """Add ``step`` to the kept checkpoints before saving, so that the
        checkpoint lists itself (a resume then removes what is beyond
        ``max_keep_ckpts``, if a crash came before this hook did)."""
        if self.max_keep_ckpts <= 0:
            return
        if not self.keep_ckpt_ids or self.keep_ckpt_ids[-1] != step:
            self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))

    def _point_at_last_checkpoint(self, runner) -> None:
        """Write ``last_checkpoint`` (to a temporary file, renamed)."""
        pointer = osp.join(runner.work_dir, POINTER)
        with open(f'{pointer}.tmp', 'w') as file:
            file.write(self.last_ckpt)
        replace_atomically(f'{pointer}.tmp', pointer)

    def _forget_old_checkpoints(self, runner) -> None:
        """Remove the checkpoints beyond ``max_keep_ckpts`` (after the new
        one is complete and pointed at; files on the main process only)."""
        if self.max_keep_ckpts <= 0:
            return
        while len(self.keep_ckpt_ids) > self.max_keep_ckpts:
            old = osp.join(self.out_dir, self.filename_tmpl.format(
                self.keep_ckpt_ids.popleft()))
            if is_main_process() and osp.isfile(old):
                os.remove(old)
                remove_memory_shards(old)
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))
