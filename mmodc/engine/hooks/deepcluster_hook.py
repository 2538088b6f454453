"""Clustering of the whole training set before / during training."""
import os.path as osp
import time
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmodc.clustering import (
    default_sample_size,
    kmeans,
    preprocess_features,
    sampled_kmeans,
    sampled_preprocess,
)
from mmodc.models.losses import cluster_class_weights
from mmodc.models.utils import model_memories
from mmodc.registry import HOOKS
from mmodc.utils import all_gather_cat, broadcast_
from mmodc.utils.sizes import require_resolved
from ..extractor import (
    extract_features,
    extract_local_features,
    unwrap_model,
)


@HOOKS.register_module()
class DeepClusterHook(Hook):
    """Extract features of the whole training set and cluster them.

    Runs before training (``initial``) and after every ``interval`` epochs
    except the last: feature extraction with a deterministic pipeline
    (progress bar), optional PCA whitening, L2 normalisation, faiss k-means
    on rank 0 with a new seed each time (``seed`` + epochs trained), the
    assignment broadcast to all ranks and saved as
    ``cluster_epoch_{epochs trained}.npy`` in the work dir. With
    ``clustering.sampled`` (and always for a :class:`ShardedODCMemory`) no
    rank holds every feature: each rank keeps its share, PCA and k-means
    are fitted on a sample gathered from all ranks and each rank projects
    and assigns its own rows. Then either:

    - ``init_memory=True`` (ODC, CODC): the labels and the L2-normalised
      embeddings fill ``model.memory_bank`` (k-means runs on their whitened
      PCA when ``pca_dim > 0``; the memory keeps the embeddings themselves,
      in the space the network trains them in); for CODC, every member's
      memory with that member's embeddings, clustered separately and saved
      as ``cluster_epoch_0_<member>.npy``. Skipped when the memories were
      restored from a checkpoint (unless that checkpoint ended its run
      right before a re-fill was due: then the re-fill the last epoch
      skipped is done). A later clustering (``interval``) re-fills
      the memories from a fresh extraction; with ``match_labels`` its
      cluster ids are first matched to the memory's current ones
      (:meth:`ODCMemory.matched_labels`), so the head's classes keep their
      meaning.
    - otherwise (DeepCluster): the labels go to the training set (a
      :class:`DeepClusterDataset`), to the sampler when ``unif_sampling``
      (a :class:`DeepClusterSampler`), the class weights of the loss are set
      from the cluster sizes, and the head is re-initialised identically on
      every rank (seeded) with its optimizer state cleared. The labels are
      saved in checkpoints and re-applied on resume without clustering
      (unless the checkpoint ended its run: then the clustering that the
      last epoch skipped is done).

    Args:
        extract_dataloader (dict): Dataloader config over the training set
            with a deterministic pipeline and an unshuffled sampler.
        clustering (dict): ``k`` (number of clusters), ``pca_dim`` (PCA
            dimension with whitening, -1 for none), optionally
            ``type='Kmeans'``, ``sampled`` (DeepCluster: each rank
            extracts its share of the training set and keeps it, PCA and
            k-means are fitted on a sample and each rank projects and
            assigns its own rows, only the labels are gathered; always so
            for a :class:`ShardedODCMemory`; default False) and
            ``sample_size`` (the rows of that sample; default ``256 k``,
            see :func:`mmodc.clustering.sampled_kmeans`).
        unif_sampling (bool): Sample uniformly over the clusters. Defaults
            to False.
        reweight (bool): Weight the loss by ``n_c ** -reweight_pow``;
            uniform weights otherwise. Defaults to False.
        reweight_pow (float): Defaults to 0.5.
        reinit_head (bool): Re-initialise the head after each clustering
            (DeepCluster only; ODC's head follows the memory). Defaults to
            True.
        init_memory (bool): Fill the model's ODC memories. Defaults to
            False.
        initial (bool): Cluster before the first epoch. Defaults to True.
        interval (int): Cluster after every ``interval`` epochs. Defaults to
            1.
        seed (int, optional): Base seed of k-means and of the head
            re-initialisation; defaults to the runner's seed.
        match_labels (bool): ODC, CODC: renumber the clusters of a re-fill
            after the memory's current labels (False: k-means' own ids, the
            head's classes reshuffled). Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(self,
                 extract_dataloader: dict,
                 clustering: dict,
                 unif_sampling: bool = False,
                 reweight: bool = False,
                 reweight_pow: float = 0.5,
                 reinit_head: bool = True,
                 init_memory: bool = False,
                 initial: bool = True,
                 interval: int = 1,
                 seed: Optional[int] = None,
                 match_labels: bool = True) -> None:
        if clustering.get('type', 'Kmeans') != 'Kmeans':
            raise ValueError(
                f"DeepClusterHook: clustering.type={clustering['type']!r} is "
                "not supported; use 'Kmeans' (faiss k-means).")
        self.extract_dataloader_cfg = extract_dataloader
        self.num_clusters = require_resolved(clustering['k'],
                                             'clustering.k')
        self.pca_dim = clustering.get('pca_dim', -1)
        self.sample_size = clustering.get('sample_size')
        self.sampled = clustering.get('sampled', False)
        if self.sampled and init_memory:
            raise ValueError(
                'DeepClusterHook: clustering.sampled=True is for DeepCluster '
                '(the labels go to the training set); ODC clusters a '
                "ShardedODCMemory on a sample anyway (model.memory_bank.type"
                "='ShardedODCMemory').")
        self.unif_sampling = unif_sampling
        self.reweight_pow = reweight_pow if reweight else 0.
        self.reinit_head = reinit_head
        self.init_memory = init_memory
        self.initial = initial
        self.interval = interval
        self.seed = seed
        self.match_labels = match_labels
        #: The last assignment and the number of epochs trained before it.
        self.labels: Optional[torch.Tensor] = None
        self.labels_epoch = -1
        #: Wall seconds of every clustering (extraction included).
        self.clustering_seconds: List[float] = []

    # ------------------------------------------------------------- hooks
    def before_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        if self.init_memory:
            memories = model_memories(model)
            if not memories:
                raise TypeError(
                    'DeepClusterHook: init_memory=True fills the ODC memory '
                    f'of the model, but {type(model).__name__} has none; '
                    'use init_memory=False for DeepCluster.')
            for name, memory in memories.items():
                self._check_length(runner, memory.length)
                self._check_clusters(name, memory.num_classes)
            if all(bool(memory.initialized) for memory in memories.values()):
                self._resume_memories(runner)
                return
        else:
            self._check_clusters('', getattr(model.head, 'num_classes',
                                             self.num_clusters), 'head')
            if self.labels is not None:
                self._resume_labels(runner)
                return
        if self.initial:
            self.deepcluster(runner, runner.epoch)

    def _skipped_clustering_due(self, runner) -> bool:
        """Whether the checkpoint ended its run right before a clustering
        that the schedule calls for (the last epoch is not followed by one)
        and epochs remain to train: a resumed run does it first, as an
        uninterrupted run did. False for checkpoints that do not record
        their last clustering."""
        return (0 < runner.epoch < runner.max_epochs
                and runner.epoch % self.interval == 0
                and 0 <= self.labels_epoch < runner.epoch)

    def _resume_memories(self, runner) -> None:
        """Keep the memories restored from the checkpoint, or re-fill them
        when :meth:`_skipped_clustering_due`."""
        if self._skipped_clustering_due(runner):
            self.deepcluster(runner, runner.epoch)
            return
        runner.logger.info('DeepClusterHook: the memory was restored from a '
                           'checkpoint; not clustering again.')

    def _resume_labels(self, runner) -> None:
        """Re-apply the labels restored from the checkpoint, or cluster
        when :meth:`_skipped_clustering_due`."""
        if self._skipped_clustering_due(runner):
            self.deepcluster(runner, runner.epoch)
            return
        runner.logger.info('DeepClusterHook: cluster labels restored from '
                           'the checkpoint; not clustering again.')
        self._apply_labels(runner, self.labels, self.labels_epoch)

    def after_train_epoch(self, runner) -> None:
        last_epoch = runner.epoch + 1 >= runner.max_epochs
        if self.every_n_epochs(runner, self.interval) and not last_epoch:
            self.deepcluster(runner, runner.epoch + 1)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """DeepCluster: the labels and the epoch they were made at; ODC,
        CODC: that epoch only (the memories hold the labels)."""
        if self.labels_epoch < 0:
            return
        saved = dict(epochs_trained=self.labels_epoch)
        if not self.init_memory:
            saved['labels'] = self.labels.cpu()
        checkpoint.setdefault('meta', {})['deepcluster'] = saved

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('meta', {}).get('deepcluster')
        if saved is not None:
            self.labels = saved.get('labels')
            self.labels_epoch = saved['epochs_trained']

    # --------------------------------------------------------- clustering
    def deepcluster(self, runner, epochs_trained: int) -> torch.Tensor:
        """Extract, cluster, save and apply the assignment.

        Args:
            runner (Runner): The runner.
            epochs_trained (int): Epochs trained so far: names the saved
                assignment and is added to the seeds.

        Returns:
            torch.Tensor: The new labels, identical on every rank (this
            rank's own with a sharded memory).
        """
        start = time.perf_counter()
        model = unwrap_model(runner.model)
        dataloader = runner.build_dataloader(self.extract_dataloader_cfg)
        runner.logger.info('DeepClusterHook: extracting features of '
                           f'{len(dataloader.dataset)} images')
        seed = (runner.seed if self.seed is None else self.seed) + \
            epochs_trained
        if self.init_memory:
            labels = self._init_memories(runner, model, dataloader, seed,
                                         epochs_trained)
            self.labels_epoch = epochs_trained
        elif self.sampled:
            labels = self._cluster_sampled(runner, model, dataloader, seed,
                                           epochs_trained)
        else:
            labels = self._cluster_all(runner, model, dataloader, seed,
                                       epochs_trained)
        self.clustering_seconds.append(time.perf_counter() - start)
        runner.logger.info('DeepClusterHook: clustering took '
                           f'{self.clustering_seconds[-1]:.1f} s')
        return labels

    def _cluster_all(self, runner, model: nn.Module, dataloader, seed: int,
                     epochs_trained: int) -> torch.Tensor:
        """DeepCluster: features of the whole training set on every rank,
        k-means on rank 0, the labels applied.

        Returns:
            torch.Tensor: The labels, identical on every rank.
        """
        features = preprocess_features(
            extract_features(model, dataloader), self.pca_dim)
        labels = self._cluster(runner, features, seed, epochs_trained)
        self._use_labels(runner, model, labels, seed, epochs_trained)
        return labels

    def _init_memories(self, runner, model: nn.Module, dataloader,
                       seed: int, epochs_trained: int) -> torch.Tensor:
        """Fill every ODC memory of the model with its k-means labels, from
        one extraction: the model's embedding (``extract_feat``) is its
        memories' embeddings side by side (ODC: one; CODC: every member's,
        in member order), so each memory clusters its own columns.

        Returns:
            torch.Tensor: The last memory's labels (this rank's own with a
            sharded memory).
        """
        memories = model_memories(model)
        sharded = {bool(memory.is_sharded) for memory in memories.values()}
        if len(sharded) > 1:
            raise ValueError(
                'DeepClusterHook: some memories of the model are sharded and '
                'some are not; make every member\'s memory_bank the same '
                'type.')
        if sharded.pop():
            features, idx = extract_local_features(model, dataloader)
        else:
            features, idx = extract_features(model, dataloader), None
        widths = [memory.feat_dim for memory in memories.values()]
        if sum(widths) != features.shape[1]:
            raise ValueError(
                f'DeepClusterHook: the model embeds images in '
                f'{features.shape[1]} dims but its memories hold {widths}; '
                'set each memory_bank.feat_dim to its neck\'s out_channels.')
        labels = None
        for (name, memory), part in zip(memories.items(),
                                        features.split(widths, dim=1)):
            if idx is not None:
                labels = self._init_sharded_memory(runner, memory, part, idx,
                                                   seed)
                continue
            bank = preprocess_features(part)
            clustered = (preprocess_features(part, self.pca_dim)
                         if self.pca_dim > 0 else bank)
            labels = self._cluster(runner, clustered, seed, epochs_trained,
                                   name, self._matched_to(memory))
            memory.init_memory(bank, labels)
        return labels

    def _cluster_sampled(self, runner, model: nn.Module, dataloader,
                         seed: int, epochs_trained: int) -> torch.Tensor:
        """DeepCluster without any rank holding every feature: each rank
        extracts its share, PCA and k-means are fitted on a sample and each
        rank assigns its own rows; only the labels are gathered (``N``
        integers, which the training set needs on every rank).

        Returns:
            torch.Tensor: The labels, identical on every rank.
        """
        features, idx = extract_local_features(model, dataloader)
        _, local_labels = self._sampled_clustering(features, idx, seed)
        labels = torch.full((len(dataloader.dataset), ), -1,
                            dtype=torch.long)
        labels[all_gather_cat(idx).cpu()] = all_gather_cat(local_labels).cpu()
        if bool((labels < 0).any()):
            raise RuntimeError(
                'DeepClusterHook: the extraction dataloader left out '
                f'{int((labels < 0).sum())} samples: use '
                "sampler=dict(type='DefaultSampler', shuffle=False) with "
                'clustering.sampled=True.')
        self._log_sizes(runner,
                        torch.bincount(labels, minlength=self.num_clusters),
                        f'a sample of the {labels.shape[0]} features spread '
                        'over the ranks')
        self._save_labels(runner, labels, epochs_trained)
        self._use_labels(runner, model, labels, seed, epochs_trained)
        return labels

    def _sampled_clustering(self, features: torch.Tensor, idx: torch.Tensor,
                            seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """This rank's features (PCA fitted on a sample, then L2) and their
        labels (k-means trained on a sample).

        Args:
            features (torch.Tensor): This rank's extracted features.
            idx (torch.Tensor): Their dataset indices.
            seed (int): Seed of the sample and of k-means.
        """
        idx = idx.to(features.device)
        sample_size = self.sample_size or default_sample_size(
            self.num_clusters)
        features = sampled_preprocess(features, idx, self.pca_dim,
                                      sample_size, seed)
        labels, _ = sampled_kmeans(features, idx, self.num_clusters,
                                   sample_size, seed=seed)
        return features, labels

    def _use_labels(self, runner, model: nn.Module, labels: torch.Tensor,
                    seed: int, epochs_trained: int) -> None:
        """DeepCluster: apply the labels and re-initialise the head."""
        self._apply_labels(runner, labels, epochs_trained)
        if self.reinit_head:
            self._reinit_head(runner, model.head, seed)

    def _init_sharded_memory(self, runner, memory: nn.Module,
                             features: torch.Tensor, idx: torch.Tensor,
                             seed: int) -> torch.Tensor:
        """Fill a memory sharded over the ranks without any rank holding
        every feature: each rank has extracted its own samples (the
        extraction sampler deals them out as the memory does), PCA (if any)
        and k-means are fitted on a sample (``clustering.sample_size``) and
        each rank projects and assigns its own; the memory keeps the
        L2-normalised embeddings.

        Args:
            memory (nn.Module): The :class:`ShardedODCMemory`.
            features (torch.Tensor): This rank's features for it.
            idx (torch.Tensor): Their dataset indices.
            seed (int): Seed of the sample and of k-means.

        Returns:
            torch.Tensor: This rank's labels.
        """
        if not torch.equal(idx.cpu(), memory.local_indices().cpu()):
            raise RuntimeError(
                'DeepClusterHook: the extraction dataloader gave rank '
                f'{memory.rank} other samples than its memory shard '
                f'(samples rank, rank + {memory.world_size}, ...): use '
                "sampler=dict(type='DefaultSampler', shuffle=False, "
                'round_up=False).')
        clustered, labels = self._sampled_clustering(features, idx, seed)
        matching = self._matched_to(memory)
        if matching is not None:
            labels = self._matched_labels(runner, matching, labels)
        bank = preprocess_features(features) if self.pca_dim > 0 else \
            clustered
        memory.init_memory_local(bank, labels)
        self._log_sizes(runner, memory.cluster_counts,
                        f'a sample of the {memory.length} sharded features')
        return labels

    def _matched_to(self, memory: nn.Module) -> Optional[nn.Module]:
        """The memory whose labels a re-fill's clusters are renumbered
        after: ``memory`` when it is filled already and ``match_labels``."""
        if self.match_labels and bool(memory.initialized):
            return memory
        return None

    @staticmethod
    def _matched_labels(runner, memory: nn.Module, labels: torch.Tensor,
                        name: str = '') -> torch.Tensor:
        """``labels`` renumbered after ``memory``'s labels
        (:meth:`ODCMemory.matched_labels`), with the share of the samples
        whose label the re-fill changes logged."""
        labels = memory.matched_labels(labels)
        which = f'memory {name}' if name else 'the memory'
        runner.logger.info(
            f'DeepClusterHook: the re-fill of {which} changes '
            f'{memory.changed_share(labels):.1%} of its labels')
        return labels

    def _cluster(self,
                 runner,
                 features: torch.Tensor,
                 seed: int,
                 epochs_trained: int,
                 name: str = '',
                 matching: Optional[nn.Module] = None) -> torch.Tensor:
        """k-means on rank 0, broadcast, renumbered after ``matching``'s
        labels (a memory, if given), saved, logged (``name``: the memory's,
        when the model has several)."""
        labels = torch.empty(
            features.shape[0], dtype=torch.long, device=features.device)
        if is_main_process():
            labels, _ = kmeans(features, self.num_clusters, seed=seed)
        broadcast_(labels)
        if matching is not None:
            labels = self._matched_labels(runner, matching, labels, name)
        self._log_sizes(runner,
                        torch.bincount(labels, minlength=self.num_clusters),
                        f'{features.shape[0]} x {features.shape[1]} features'
                        f'{" of " + name if name else ""}')
        self._save_labels(runner, labels, epochs_trained, name)
        return labels

    def _log_sizes(self, runner, sizes: torch.Tensor, what: str) -> None:
        runner.logger.info(
            f'DeepClusterHook: k-means with k={self.num_clusters} on {what}: '
            f'cluster sizes min {int(sizes.min())}, max {int(sizes.max())}, '
            f'empty {int((sizes == 0).sum())}')

    @staticmethod
    def _save_labels(runner, labels: torch.Tensor, epochs_trained: int,
                     name: str = '') -> None:
        """``cluster_epoch_{epochs trained}[_{name}].npy`` in the work
        dir."""
        suffix = f'_{name}' if name else ''
        if is_main_process():
            np.save(osp.join(runner.work_dir,
                             f'cluster_epoch_{epochs_trained}{suffix}.npy'),
                    labels.cpu().numpy())

    # ------------------------------------------------ applying the labels
    def _apply_labels(self, runner, labels: torch.Tensor,
                      epochs_trained: int) -> None:
        """Hand the labels to the dataset, sampler and loss weights."""
        self.labels, self.labels_epoch = labels, epochs_trained
        dataloader = runner.train_dataloader
        dataset = dataloader.dataset
        if not hasattr(dataset, 'assign_labels'):
            raise TypeError(
                'DeepClusterHook: the training set '
                f'({type(dataset).__name__}) cannot take cluster labels; wrap '
                "it in train_dataloader.dataset=dict(type='DeepClusterDataset'"
                ', dataset=...).')
        dataset.assign_labels(labels.cpu())
        if self.unif_sampling:
            sampler = dataloader.sampler
            if not hasattr(sampler, 'set_uniform_indices'):
                raise TypeError(
                    'DeepClusterHook: unif_sampling=True needs '
                    "train_dataloader.sampler=dict(type='DeepClusterSampler')"
                    f', got {type(sampler).__name__}.')
            sampler.set_uniform_indices(labels.cpu(), self.num_clusters)
        model = unwrap_model(runner.model)
        counts = torch.bincount(labels, minlength=self.num_clusters)
        model.class_weights.copy_(
            cluster_class_weights(counts, self.reweight_pow))

    @staticmethod
    def _reinit_head(runner, head: nn.Module, seed: int) -> None:
        """Re-initialise the head from ``seed`` (the same on every rank,
        without touching the global random state) and clear its optimizer
        state (momentum)."""
        parameters = list(head.parameters())
        devices = [p.device for p in parameters if p.is_cuda][:1]
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            if head.init_cfg:
                head._is_init = False
                head.init_weights()
            else:
                for module in head.modules():
                    if hasattr(module, 'reset_parameters'):
                        module.reset_parameters()
        for optimizer in _optimizers(runner):
            for parameter in parameters:
                optimizer.state.pop(parameter, None)

    # -------------------------------------------------------------- checks
    def _check_clusters(self, owner: str, num_classes: int,
                        what: str = 'memory_bank') -> None:
        """``clustering.k`` must be the number of classes of the head
        (DeepCluster) or of the memory (``owner``: its member in CODC)."""
        if num_classes != self.num_clusters:
            field = f'model.members.{owner}.{what}' if owner else \
                f'model.{what}'
            raise ValueError(
                f'DeepClusterHook: clustering.k={self.num_clusters} differs '
                f'from {field}.num_classes={num_classes}; set both to the '
                'number of clusters.')

    def _check_length(self, runner, length: int) -> None:
        dataset_length = len(runner.train_dataloader.dataset)
        if length != dataset_length:
            raise ValueError(
                f'model.memory_bank.length={length} differs from the length '
                f'of the training set ({dataset_length}); set the memory '
                'length to the number of training images.')


def _optimizers(runner) -> List[torch.optim.Optimizer]:
    """The optimizers of the runner's optim wrapper(s)."""
    wrapper = runner.optim_wrapper
    wrappers = wrapper.values() if hasattr(wrapper, 'values') else [wrapper]
    return [w.optimizer for w in wrappers]
