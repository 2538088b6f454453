"""Per-iteration memory work of Online Deep Clustering."""
import os.path as osp
from typing import Optional

import numpy as np
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook, Hook

from mmodc.models.utils import model_memories
from mmodc.registry import HOOKS
from ..extractor import unwrap_model
from .safe_checkpoint_hook import SafeCheckpointHook


@HOOKS.register_module()
class ODCHook(Hook):
    """Centroid updates, small-cluster handling and loss re-weighting of ODC.

    The work is done on every ODC memory of the model: ODC's
    ``memory_bank``, or each member's of a :class:`CODC` model (logged and
    saved under the member's name).

    After every training iteration, in this order: every
    ``centroids_update_interval`` iterations the centroids are recomputed;
    every ``deal_with_small_clusters_interval`` iterations clusters below
    ``min_cluster`` are dissolved and empty clusters refilled; the class
    weights of the loss are set to ``n_c ** -reweight_pow`` (normalised) when
    ``reweight`` is True, uniform otherwise; every ``evaluate_interval``
    iterations the cluster statistics are logged. Every
    ``save_labels_interval`` epochs the labels are saved to the work dir.
    Every ``recluster_interval`` epochs (off by default; not in the
    reference) the memory's features are clustered afresh by k-means
    (:meth:`ODCMemory.recluster`), ids matched to the current labels;
    with ``recluster_pca_dim`` on the whitened PCA of the features, as
    DeepCluster clusters its extracted features.

    The memory is saved in checkpoints as buffers of the model; a
    :class:`ShardedODCMemory` only by :class:`SafeCheckpointHook`, which
    writes every rank's rows to a shard file beside the checkpoint
    (:mod:`mmodc.models.utils.memory_shards`) and gives each rank its rows
    on a resume with any number of processes. Add
    :class:`RandomStatesHook` for an exact resume.

    Args:
        centroids_update_interval (int): Defaults to 10.
        deal_with_small_clusters_interval (int): Defaults to 1.
        evaluate_interval (int): Defaults to 50.
        reweight (bool): Weight the loss by cluster size. Defaults to True.
        reweight_pow (float): Exponent of the re-weighting. Defaults to 0.5.
        save_labels_interval (int, optional): Epochs between label dumps;
            None to never save. Defaults to 10.
        recluster_interval (int, optional): Epochs between k-means
            re-clusterings of the memory; None for never (the reference).
            Defaults to None.
        recluster_pca_dim (int): PCA dimension (whitened, then L2) of the
            re-clustering's k-means; -1 for k-means of the memory's
            features as they are. Defaults to -1.
    """

    priority = 'NORMAL'

    def __init__(self,
                 centroids_update_interval: int = 10,
                 deal_with_small_clusters_interval: int = 1,
                 evaluate_interval: int = 50,
                 reweight: bool = True,
                 reweight_pow: float = 0.5,
                 save_labels_interval: Optional[int] = 10,
                 recluster_interval: Optional[int] = None,
                 recluster_pca_dim: int = -1) -> None:
        self.centroids_update_interval = centroids_update_interval
        self.deal_with_small_clusters_interval = \
            deal_with_small_clusters_interval
        self.evaluate_interval = evaluate_interval
        self.reweight = reweight
        self.reweight_pow = reweight_pow
        self.save_labels_interval = save_labels_interval
        if recluster_pca_dim != -1 and not recluster_interval:
            raise ValueError(
                f'ODCHook: recluster_pca_dim={recluster_pca_dim} does nothing '
                'without recluster_interval; set recluster_interval (epochs '
                'between re-clusterings) or drop recluster_pca_dim.')
        self.recluster_interval = recluster_interval
        self.recluster_pca_dim = recluster_pca_dim
        #: The model's memories by name, found before training.
        self.memories: dict = {}

    def before_train(self, runner) -> None:
        """Find the model's memories once; refuse checkpoint hooks that
        cannot save a sharded memory."""
        self.memories = _memories(runner)
        if not any(memory.is_sharded
                   for memory in self.memories.values()):
            return
        for hook in runner.hooks:
            if not isinstance(hook, CheckpointHook):
                continue
            if (not isinstance(hook, SafeCheckpointHook) or hook.save_best
                    or hook.backend_args):
                raise ValueError(
                    'a ShardedODCMemory is saved in shard files beside each '
                    'checkpoint, which only SafeCheckpointHook writes, to a '
                    'local folder and without save_best (got '
                    f'{type(hook).__name__}, save_best={hook.save_best}, '
                    f'backend_args={hook.backend_args}): set default_hooks.'
                    "checkpoint=dict(type='SafeCheckpointHook', ...) without "
                    'save_best and backend_args.')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        for name, memory in self.memories.items():
            if self.every_n_train_iters(runner,
                                        self.centroids_update_interval):
                memory.update_centroids()
            if self.every_n_train_iters(
                    runner, self.deal_with_small_clusters_interval):
                memory.deal_with_small_clusters()
            memory.update_class_weights(
                self.reweight_pow if self.reweight else 0.)
            if self.every_n_train_iters(runner, self.evaluate_interval):
                self._log_clusters(runner, name, memory, outputs)

    def after_train_epoch(self, runner) -> None:
        for name, memory in self.memories.items():
            if self.recluster_interval and self.every_n_epochs(
                    runner, self.recluster_interval):
                changed = memory.recluster(seed=runner.epoch + 1,
                                           pca_dim=self.recluster_pca_dim)
                memory.update_class_weights(
                    self.reweight_pow if self.reweight else 0.)
                memory_name = f'memory {name}' if name else 'memory'
                runner.logger.info(
                    f'ODC: {memory_name} re-clustered by k-means after epoch '
                    f'{runner.epoch + 1}: {changed:.1%} of the labels changed')
            if (self.save_labels_interval and self.every_n_epochs(
                    runner, self.save_labels_interval)):
                # every rank takes part: a sharded memory gathers the labels
                labels = memory.gather_labels()
                suffix = f'_{name}' if name else ''
                if is_main_process():
                    np.save(
                        osp.join(runner.work_dir, 'cluster_epoch_'
                                 f'{runner.epoch + 1}{suffix}.npy'),
                        labels.cpu().numpy())

    @staticmethod
    def _log_clusters(runner, name: str, memory,
                      outputs: Optional[dict]) -> None:
        counts = memory.cluster_counts
        stats = dict(
            empty_clusters=int((counts == 0).sum()),
            min_cluster_size=int(counts.min()),
            max_cluster_size=int(counts.max()))
        scope = f'{name}/' if name else ''
        for key, value in stats.items():
            runner.message_hub.update_scalar(f'train/{scope}{key}', value)
        change = (outputs or {}).get(
            f'{name}.change_ratio' if name else 'change_ratio')
        change_text = '' if change is None else f', label change ratio ' \
            f'{float(change):.4f}'
        runner.logger.info(
            f'ODC clusters{" of " + name if name else ""} at iteration '
            f'{runner.iter + 1}: {stats["empty_clusters"]} empty, sizes '
            f'{stats["min_cluster_size"]}..{stats["max_cluster_size"]}'
            f'{change_text}')


def _memories(runner) -> dict:
    """The model's ODC memories by name (see :func:`model_memories`)."""
    memories = model_memories(unwrap_model(runner.model))
    if not memories:
        raise TypeError(
            f'ODCHook: the model ({type(unwrap_model(runner.model)).__name__})'
            ' has no ODC memory (model.memory_bank); use it with ODC or '
            'CODC.')
    return memories
