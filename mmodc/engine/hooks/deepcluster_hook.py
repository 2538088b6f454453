"""Clustering of the whole training set before / during training."""
import os.path as osp
from typing import Optional

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmodc.clustering import kmeans, preprocess_features
from mmodc.registry import HOOKS
from mmodc.utils import broadcast_
from ..extractor import extract_features, recompute_bn_statistics, unwrap_model


@HOOKS.register_module()
class DeepClusterHook(Hook):
    """Extract features of the whole training set and cluster them.

    Runs before training (``initial``) and after every ``interval`` epochs:
    feature extraction with a deterministic pipeline (progress bar), optional
    PCA whitening, L2 normalisation, faiss k-means on rank 0 with a new seed
    each time, the assignment broadcast to all ranks and saved as
    ``cluster_epoch_{epoch}.npy`` in the work dir. With ``init_memory=True``
    the features and labels fill ODC's memory; this is skipped when the
    memory is already filled (on resume).

    Args:
        extract_dataloader (dict): Dataloader config over the training set
            with a deterministic pipeline and an unshuffled sampler.
        clustering (dict): ``k`` (number of clusters) and ``pca_dim`` (-1 for
            no PCA).
        init_memory (bool): Fill ``model.memory_bank``. Defaults to False.
        initial (bool): Cluster before the first epoch. Defaults to True.
        interval (int): Cluster after every ``interval`` epochs. Defaults to
            1.
        seed (int, optional): Base seed of k-means; defaults to the runner's
            seed. The epoch is added to it.
        calibrate_bn_batches (int): Before the first clustering, recompute
            the BatchNorm running statistics over this many extraction
            batches, so that the eval-mode features of the fresh network
            match its training-mode ones (0: off, as the original code).
    """

    priority = 'NORMAL'

    def __init__(self,
                 extract_dataloader: dict,
                 clustering: dict,
                 init_memory: bool = False,
                 initial: bool = True,
                 interval: int = 1,
                 seed: Optional[int] = None,
                 calibrate_bn_batches: int = 0) -> None:
        self.extract_dataloader_cfg = extract_dataloader
        self.num_clusters = clustering['k']
        self.pca_dim = clustering.get('pca_dim', -1)
        self.init_memory = init_memory
        self.initial = initial
        self.interval = interval
        self.seed = seed
        self.calibrate_bn_batches = calibrate_bn_batches

    def before_train(self, runner) -> None:
        if self.init_memory:
            memory = unwrap_model(runner.model).memory_bank
            self._check_length(runner, memory.length)
            if bool(memory.initialized):
                runner.logger.info(
                    'DeepClusterHook: the memory was restored from a '
                    'checkpoint; not clustering again.')
                return
        if self.initial:
            self.deepcluster(runner, calibrate_bn=True)

    def after_train_epoch(self, runner) -> None:
        if self.every_n_epochs(runner, self.interval):
            self.deepcluster(runner)

    def deepcluster(self, runner, calibrate_bn: bool = False) -> torch.Tensor:
        """Extract, cluster, save and apply the assignment.

        Args:
            runner (Runner): The runner.
            calibrate_bn (bool): Recompute the BatchNorm statistics first
                (if ``calibrate_bn_batches`` > 0).

        Returns:
            torch.Tensor: The new labels, identical on every rank.
        """
        model = unwrap_model(runner.model)
        dataloader = runner.build_dataloader(self.extract_dataloader_cfg)
        if calibrate_bn and self.calibrate_bn_batches > 0:
            runner.logger.info(
                'DeepClusterHook: BatchNorm statistics over '
                f'{self.calibrate_bn_batches} batches')
            recompute_bn_statistics(model, dataloader,
                                    self.calibrate_bn_batches)
        runner.logger.info('DeepClusterHook: extracting features of '
                           f'{len(dataloader.dataset)} images')
        features = extract_features(model, dataloader)
        features = preprocess_features(features, self.pca_dim)
        labels = self._cluster(runner, features)
        if self.init_memory:
            model.memory_bank.init_memory(features, labels)
        return labels

    def _cluster(self, runner, features: torch.Tensor) -> torch.Tensor:
        """k-means on rank 0, broadcast, saved, logged."""
        labels = torch.empty(
            features.shape[0], dtype=torch.long, device=features.device)
        if is_main_process():
            seed = (runner.seed if self.seed is None else self.seed)
            labels, _ = kmeans(features, self.num_clusters,
                               seed=seed + runner.epoch)
            self._save(runner, labels)
        broadcast_(labels)
        sizes = torch.bincount(labels, minlength=self.num_clusters)
        runner.logger.info(
            f'DeepClusterHook: k-means with k={self.num_clusters} on '
            f'{features.shape[0]} x {features.shape[1]} features: cluster '
            f'sizes min {int(sizes.min())}, max {int(sizes.max())}, empty '
            f'{int((sizes == 0).sum())}')
        return labels

    def _save(self, runner, labels: torch.Tensor) -> None:
        path = osp.join(runner.work_dir, f'cluster_epoch_{runner.epoch}.npy')
        np.save(path, labels.cpu().numpy())

    def _check_length(self, runner, length: int) -> None:
        dataset_length = len(runner.train_dataloader.dataset)
        if length != dataset_length:
            raise ValueError(
                f'model.memory_bank.length={length} differs from the length '
                f'of the training set ({dataset_length}); set the memory '
                'length to the number of training images.')
