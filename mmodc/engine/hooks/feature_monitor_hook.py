"""Watch feature quality during self-supervised training."""
import json
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dist import broadcast_object_list, is_main_process
from mmengine.hooks import Hook

from mmodc.evaluation import evaluate_features, normalized_mutual_info
from mmodc.models.utils import model_memories
from mmodc.registry import HOOKS
from mmodc.utils import preserved_random_states
from ..extractor import (
    extract_features,
    member_of,
    named_feature_forward,
    unwrap_model,
)

CURVE_FILE = 'monitor_curves.json'


def class_labels(dataset, role: str) -> np.ndarray:
    """The ground-truth classes of a dataset (unwrapping dataset wrappers).

    Args:
        dataset: A dataset with ``get_gt_labels()`` (FashionMNIST, MMPretrain
            datasets with labels), possibly inside a wrapper's ``dataset``.
        role (str): What the dataset is for, named in the error.

    Returns:
        np.ndarray: ``len(dataset)`` int64 class ids.

    Raises:
        ValueError: The dataset has no class labels.
    """
    inner = getattr(dataset, 'dataset', dataset)
    try:
        labels = np.asarray(inner.get_gt_labels(), dtype=np.int64)
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(
            f'FeatureMonitorHook: the {role} ({type(inner).__name__}) has no '
            f'class labels ({type(error).__name__}: {error}); the monitor '
            'scores features against classes, so give it a labelled dataset '
            '(e.g. CustomDataset with_label=True and class sub-folders, or '
            'an annotation file with labels).') from error
    if labels.shape != (len(inner), ) or (labels.size and labels.min() < 0):
        raise ValueError(
            f'FeatureMonitorHook: the {role} ({type(inner).__name__}) gave '
            f'{labels.size} labels for {len(inner)} samples (min '
            f'{labels.min() if labels.size else None}); every sample needs a '
            'class id >= 0.')
    return labels


@HOOKS.register_module()
class FeatureMonitorHook(Hook):
    """kNN accuracy and k-means quality of the features, during training.

    Before training and after every ``interval`` epochs (or iterations with
    ``by_epoch=False``), the features of a labelled monitoring set are
    extracted (eval mode, no gradients) and scored:

    - ``knn_top1``: each query sample classified by its ``knn_k`` most
      cosine-similar bank samples, votes ``exp(cos / T)`` (as
      ``tools/benchmarks/knn.py``);
    - ``nmi``, ``acc`` (and ``ari``): faiss k-means of the L2-normalised bank
      features with ``k`` = number of classes, against the classes;
    - ``pseudo_label_nmi``: the NMI of the training pseudo-labels (the ODC
      memory's label bank, ``<member>/pseudo_label_nmi`` for each memory of
      a :class:`CODC` model, or DeepCluster's last assignment) against the
      classes, when the training set exposes class labels (they are never
      used for training).

    Each score is put into the message hub as ``monitor/<feature>/<name>``
    (``monitor/pseudo_label_nmi``), written to the visualizer's backends at
    the current iteration (``vis_data/scalars.json`` by default; TensorBoard
    when configured), logged, and appended with the epoch's mean training
    loss and label change ratio to ``monitor_curves.json`` in the work dir,
    from which the reports draw their curves.

    The monitor does not change training: it restores every random state it
    may touch, restores the model's mode, and reads the memory without
    writing it. In a distributed run every rank extracts its share of the
    monitoring set and rank 0's scores are broadcast, so all ranks log the
    same numbers.

    Args:
        bank_dataloader (dict): Dataloader config of the labelled reference
            set (kNN bank, k-means): deterministic pipeline, unshuffled
            sampler.
        query_dataloader (dict): Dataloader config of the labelled queries
            classified by kNN.
        interval (int): Epochs (iterations with ``by_epoch=False``) between
            two measurements. Defaults to 1.
        by_epoch (bool): Count ``interval`` in epochs. Defaults to True.
        features (Sequence[str]): Which features: 'backbone' (global average
            pool of the last backbone stage) and/or 'neck' (the model's
            ``extract_feat``); for a :class:`CODC` model
            ``'<member>.backbone'`` / ``'<member>.neck'``, and a name
            without a member means that feature of every member. Defaults
            to ('backbone', ).
        knn_k (int): Neighbours. Defaults to 20.
        knn_temperature (float): Vote temperature. Defaults to 0.07.
        kmeans_seed (int): Seed of the monitoring k-means. Defaults to 0.
        before_train (bool): Also measure before the first epoch. Defaults
            to True.
    """

    priority = 'LOW'  # after the hooks that fill the memory

    def __init__(self,
                 bank_dataloader: dict,
                 query_dataloader: dict,
                 interval: int = 1,
                 by_epoch: bool = True,
                 features: Sequence[str] = ('backbone', ),
                 knn_k: int = 20,
                 knn_temperature: float = 0.07,
                 kmeans_seed: int = 0,
                 before_train: bool = True) -> None:
        if not features:
            raise ValueError('FeatureMonitorHook: features is empty; choose '
                             'from backbone, neck (MEMBER.backbone, '
                             'MEMBER.neck for CODC).')
        self.forwards = [named_feature_forward(name) for name in features]
        if interval < 1:
            raise ValueError(
                f'FeatureMonitorHook: interval={interval} must be >= 1.')
        self.dataloader_cfgs = dict(bank=bank_dataloader,
                                    query=query_dataloader)
        self.interval = interval
        self.by_epoch = by_epoch
        self.features = tuple(features)
        self.knn_k = knn_k
        self.knn_temperature = knn_temperature
        self.kmeans_seed = kmeans_seed
        self.measure_before_train = before_train
        self.loaders: Dict[str, object] = {}
        self.labels: Dict[str, np.ndarray] = {}
        self.train_dataset = None
        self.train_labels: Optional[np.ndarray] = None
        self._feature_widths: List[int] = []
        #: One dict per measurement: epoch, iter, seconds and the scores.
        self.records: List[Dict[str, Union[int, float]]] = []
        self._train_sums: Dict[str, float] = {}
        self._train_count = 0
        self._clock_start = 0.
        self._monitor_seconds = 0.

    # ------------------------------------------------------------- hooks
    def before_run(self, runner) -> None:
        self._clock_start = time.perf_counter()

    def before_train(self, runner) -> None:
        self._name_member_features(unwrap_model(runner.model))
        for role, cfg in self.dataloader_cfgs.items():
            with preserved_random_states():
                self.loaders[role] = runner.build_dataloader(cfg)
            self.labels[role] = class_labels(self.loaders[role].dataset,
                                             f'monitoring {role} set')
        self.train_dataset = runner.train_dataloader.dataset
        self.train_labels = self._training_class_labels(runner)
        if self.measure_before_train and not self.records:
            self.measure(runner, runner.epoch, runner.iter)

    def _name_member_features(self, model) -> None:
        """For a :class:`CODC` model, a feature without a member name
        ('backbone') stands for that feature of every member; named
        members must exist."""
        members = getattr(model, 'members', None)
        names = []
        for name in self.features:
            member = name.rpartition('.')[0]
            if member:
                member_of(model, member)
            names += [name] if member or members is None else [
                f'{each}.{name}' for each in members
            ]
        self.features = tuple(names)
        self.forwards = [named_feature_forward(name) for name in names]

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        for key in ('loss', 'change_ratio'):
            if outputs is not None and key in outputs:
                value = torch.as_tensor(outputs[key]).detach().float()
                self._train_sums[key] = self._train_sums.get(key, 0.) + value
        self._train_count += 1
        if not self.by_epoch and self.every_n_train_iters(
                runner, self.interval):
            self.measure(runner, runner.epoch, runner.iter + 1)

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and self.every_n_epochs(runner, self.interval):
            self.measure(runner, runner.epoch + 1, runner.iter)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['feature_monitor'] = dict(
            records=self.records)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('meta', {}).get('feature_monitor')
        if saved is not None:
            self.records = list(saved['records'])
            # the clock goes on from the last measurement of the resumed run
            last = self.records[-1].get('train_seconds', 0.) \
                if self.records else 0.
            self._clock_start = time.perf_counter() - last
            self._monitor_seconds = 0.

    # -------------------------------------------------------- measuring
    def measure(self, runner, epoch: int,
                iteration: int) -> Dict[str, Union[int, float]]:
        """Extract, score, log and record the monitoring set's features.

        Args:
            runner (Runner): The runner.
            epoch (int): Epochs trained so far.
            iteration (int): Iterations trained so far.

        Returns:
            dict: The record: ``epoch``, ``iter``, ``train_seconds`` (wall
            time of the run so far without the monitor's own, resumes
            included), ``seconds`` (this measurement's), the scores, and
            ``train_loss`` / ``train_change_ratio`` (means since the last
            measurement) when training reported them.
        """
        start = time.perf_counter()
        train_seconds = start - self._clock_start - self._monitor_seconds
        with preserved_random_states():
            scores = self._scores(unwrap_model(runner.model))
        record = dict(epoch=epoch, iter=iteration,
                      train_seconds=train_seconds)
        record.update(self._train_means())
        record.update(scores)
        record['seconds'] = time.perf_counter() - start
        self._monitor_seconds += record['seconds']
        self.records.append(record)
        self._publish(runner, record)
        return record

    def _scores(self, model) -> Dict[str, float]:
        """All scores, computed on rank 0 and broadcast to every rank."""
        features = {
            role: extract_features(
                model, loader, forward=self._forward_all, show_progress=False)
            for role, loader in self.loaders.items()
        }
        scores = [None]
        if is_main_process():
            scores[0] = self._score_features(features, model)
        broadcast_object_list(scores)
        return scores[0]

    def _forward_all(self, model, data: dict) -> torch.Tensor:
        """The chosen features of a batch, concatenated (their widths are
        kept in ``_feature_widths``)."""
        parts = [forward(model, data).flatten(1) for forward in self.forwards]
        self._feature_widths = [part.shape[1] for part in parts]
        return torch.cat(parts, dim=1)

    def _score_features(self, features: Dict[str, torch.Tensor],
                        model) -> Dict[str, float]:
        scores = {}
        offset = 0
        for name, width in zip(self.features, self._feature_widths):
            part = {
                role: feats[:, offset:offset + width]
                for role, feats in features.items()
            }
            offset += width
            result = evaluate_features(
                part['bank'],
                self.labels['bank'],
                part['query'],
                self.labels['query'],
                num_clusters=int(self.labels['bank'].max()) + 1,
                kmeans_seeds=(self.kmeans_seed, ),
                knn_k=self.knn_k,
                knn_temperature=self.knn_temperature)
            for key in ('knn_top1', 'nmi', 'acc', 'ari'):
                scores[f'{name}/{key}'] = float(result[key])
        if self.train_labels is None:
            return scores
        for name, pseudo in self._pseudo_labels(model).items():
            scores[f'{name}/pseudo_label_nmi' if name else
                   'pseudo_label_nmi'] = normalized_mutual_info(
                       self.train_labels, pseudo)
        return scores

    def _pseudo_labels(self, model) -> Dict[str, np.ndarray]:
        """The labels the model trains on now, if it has any yet: those of
        every ODC memory (by memory name, '' for ODC's one), or
        DeepCluster's assignment."""
        memories = model_memories(model)
        if memories:
            return {name: memory.gather_labels().cpu().numpy()
                    for name, memory in memories.items()
                    if bool(memory.initialized)}
        labels = getattr(self.train_dataset, 'labels', None)
        if isinstance(labels, torch.Tensor) and bool((labels >= 0).all()):
            return {'': labels.cpu().numpy()}
        return {}

    def _training_class_labels(self, runner) -> Optional[np.ndarray]:
        """Class labels of the training set, if it exposes them."""
        try:
            return class_labels(self.train_dataset, 'training set')
        except ValueError:
            runner.logger.info(
                'FeatureMonitorHook: the training set has no class labels; '
                'pseudo-label NMI is not monitored.')
            return None

    def _train_means(self) -> Dict[str, float]:
        means = {
            f'train_{key}': float(total) / self._train_count
            for key, total in self._train_sums.items()
        } if self._train_count else {}
        self._train_sums, self._train_count = {}, 0
        return means

    # ------------------------------------------------------- publishing
    def _publish(self, runner, record: dict) -> None:
        """Message hub, visualizer backends, log and the curve file."""
        scores = {
            f'monitor/{key}': value
            for key, value in record.items()
            if key not in ('epoch', 'iter')
        }
        for key, value in scores.items():
            runner.message_hub.update_scalar(key, value)
        runner.visualizer.add_scalars(scores, step=record['iter'])
        text = ', '.join(f'{key} {value:.4f}' for key, value in record.items()
                         if key not in ('epoch', 'iter', 'seconds',
                                        'train_seconds'))
        runner.logger.info(
            f'FeatureMonitorHook: epoch {record["epoch"]}, iteration '
            f'{record["iter"]}: {text} ({record["seconds"]:.1f} s)')
        if is_main_process():
            with open(osp.join(runner.work_dir, CURVE_FILE), 'w') as stream:
                json.dump(self.records, stream, indent=1)
