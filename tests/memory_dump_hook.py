"""Test-only hooks: every rank saves its ODC memory after every iteration,
or its DeepCluster set-up at the start of every epoch, or its monitor
records after training.

Loaded by test configs through ``custom_imports``; the banks of all ranks
can then be compared after a multi-process run.
"""
import json
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmodc.engine import unwrap_model
from mmodc.models.utils import model_memories
from mmodc.registry import HOOKS


@HOOKS.register_module()
class MemoryDumpHook(Hook):
    """Save the buffers of the model's memories (``memory_bank``; for
    CODC ``<member>.<buffer>``) to ``rank{r}_iter{i}.pt`` in the work dir
    after each iteration (after the ODCHook, which has priority
    NORMAL)."""

    priority = 'LOW'

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        state = {
            f'{name}.{key}' if name else key: value
            for name, memory in model_memories(unwrap_model(
                runner.model)).items()
            for key, value in memory.state_dict().items()
        }
        path = osp.join(runner.work_dir,
                        f'rank{get_rank()}_iter{runner.iter + 1}.pt')
        torch.save(state, path)


@HOOKS.register_module()
class WholeMemoryDumpHook(Hook):
    """Save the whole label and feature banks in index order (gathered from
    every rank when the memory is sharded) to ``whole_iter{i}.pt`` from
    rank 0 after each iteration."""

    priority = 'LOW'

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        memory = unwrap_model(runner.model).memory_bank
        labels = memory.gather_labels()
        rows = torch.arange(memory.feature_bank.shape[0])
        features = memory._in_index_order(rows, memory.feature_bank)[1]
        if get_rank() == 0:
            torch.save(dict(labels=labels, features=features),
                       osp.join(runner.work_dir,
                                f'whole_iter{runner.iter + 1}.pt'))


@HOOKS.register_module()
class ClusteringDumpHook(Hook):
    """Save, at the start of every epoch, what DeepClusterHook set up for it:
    the dataset's labels, the rank's sampled indices, the class weights and
    the head, to ``rank{r}_epoch{e}.pt`` (after DistSamplerSeedHook, which
    has priority NORMAL)."""

    priority = 'LOW'

    def before_train_epoch(self, runner) -> None:
        model = unwrap_model(runner.model)
        dataloader = runner.train_dataloader
        path = osp.join(runner.work_dir,
                        f'rank{get_rank()}_epoch{runner.epoch}.pt')
        torch.save(
            dict(
                labels=dataloader.dataset.labels.clone(),
                indices=torch.tensor(list(iter(dataloader.sampler))),
                class_weights=model.class_weights.clone(),
                **{
                    f'head.{name}': value.clone()
                    for name, value in model.head.state_dict().items()
                }), path)


@HOOKS.register_module()
class MonitorDumpHook(Hook):
    """Save, after training, what FeatureMonitorHook recorded on this rank
    to ``monitor_rank{r}.json`` in the work dir."""

    def after_run(self, runner) -> None:
        monitor = next(hook for hook in runner.hooks
                       if type(hook).__name__ == 'FeatureMonitorHook')
        path = osp.join(runner.work_dir, f'monitor_rank{get_rank()}.json')
        with open(path, 'w') as stream:
            json.dump(monitor.records, stream)
