"""Train ODC and DeepCluster alike and compare them in one table.

Each config is trained in this process with the MMEngine Runner while the
clustering work is timed: for ODC the initial clustering (one-off) and the
per-iteration memory work (memory update in the loss, centroid updates,
small-cluster handling) and the memory's re-clusterings where the ODCHook
asks for them, for DeepCluster every clustering (extraction,
PCA, k-means, labels handed over). The training work is the rest of the
training wall time. The trained networks are then scored alike: NMI of
their final pseudo-labels against the classes, k-means (k = classes) NMI /
ACC of the pooled last backbone stage, and kNN top-1 on the test set.
"""
import copy
import json
import os
import os.path as osp
import time
from collections import defaultdict
from typing import Callable, Dict, Optional, Sequence

import numpy as np
from mmengine.config import Config
from mmengine.runner import Runner

from mmodc.engine.extractor import (
    extract_features,
    pooled_backbone,
    unwrap_model,
)
from mmodc.engine.hooks import DeepClusterHook, FeatureMonitorHook, ODCHook
from mmodc.evaluation.feature_eval import evaluate_features
from mmodc.evaluation.functional import normalized_mutual_info
from .curve_plots import plot_training_curves
from .odc_report import extract_dataloader_cfg


class Stopwatch:
    """Accumulates the wall time spent in chosen methods of objects."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = defaultdict(float)

    def wrap(self, owner: object, method: str, key: str) -> None:
        """Time every call of ``owner.method`` under ``key``.

        Args:
            owner (object): The object (its bound method is replaced by a
                timed one on this instance only).
            method (str): The method's name.
            key (str): Where the seconds are added.
        """
        original: Callable = getattr(owner, method)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - start

        setattr(owner, method, timed)


def train_timed(cfg: Config) -> Dict:
    """Train ``cfg`` and time its clustering work.

    Args:
        cfg (Config): An ODC or DeepCluster training config.

    Returns:
        dict: ``runner`` (trained), ``epochs``, ``train_seconds`` (total
        wall time), ``initial_clustering_seconds``,
        ``clustering_seconds_per_epoch``, ``training_seconds_per_epoch``,
        ``monitor_seconds`` (FeatureMonitorHook's measurements, not counted
        as training) and ``curves`` (its records; empty without it).
    """
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    watch = Stopwatch()
    model = unwrap_model(runner.model)
    cluster_hook = monitor = None
    for hook in runner.hooks:
        if isinstance(hook, DeepClusterHook):
            cluster_hook = hook
        elif isinstance(hook, ODCHook):
            watch.wrap(hook, 'after_train_iter', 'online')
        elif isinstance(hook, FeatureMonitorHook):
            monitor = hook
            watch.wrap(hook, 'measure', 'monitor')
    memory = getattr(model, 'memory_bank', None)
    if memory is not None:
        # the memory's updates, and its re-clusterings where the ODCHook
        # asks for them
        for method in ('update_samples_memory', 'recluster'):
            watch.wrap(memory, method, 'online')
    start = time.perf_counter()
    runner.train()
    total = time.perf_counter() - start - watch.seconds['monitor']
    clusterings = cluster_hook.clustering_seconds if cluster_hook else []
    if memory is not None:
        # ODC clusters once before training, then works online (and
        # re-extracts and clusters again where its DeepClusterHook says so)
        one_off = clusterings[0]
        recurring = watch.seconds['online'] + sum(clusterings[1:])
    else:
        # DeepCluster clusters before every epoch
        one_off, recurring = 0., sum(clusterings)
    epochs = runner.epoch
    return dict(
        runner=runner,
        epochs=epochs,
        train_seconds=total,
        initial_clustering_seconds=one_off,
        clustering_seconds_per_epoch=recurring / epochs,
        training_seconds_per_epoch=(total - one_off - recurring) / epochs,
        monitor_seconds=watch.seconds['monitor'],
        curves=list(monitor.records) if monitor else [])


def final_pseudo_labels(runner: Runner) -> np.ndarray:
    """The labels the last epoch trained on: ODC's memory or the
    DeepCluster training set's."""
    model = unwrap_model(runner.model)
    if hasattr(model, 'memory_bank'):
        return model.memory_bank.label_bank.cpu().numpy()
    return runner.train_dataloader.dataset.labels.numpy()


class AlgorithmComparison:
    """Train several clustering configs and score them alike.

    Args:
        configs (dict[str, Config]): Name -> training config.
        work_dir (str): Output folder; each run trains in ``work_dir/name``.
        kmeans_seeds (Sequence[int]): Seeds of the k-means evaluations.
        knn_k (int): kNN neighbours. Defaults to 20.
        knn_temperature (float, optional): kNN vote temperature. Defaults
            to 0.07.
        num_workers (int, optional): Workers of the evaluation dataloaders.
        logger (Callable[[str], None], optional): Progress messages.
    """

    def __init__(self,
                 configs: Dict[str, Config],
                 work_dir: str,
                 kmeans_seeds: Sequence[int] = (0, 1, 2),
                 knn_k: int = 20,
                 knn_temperature: Optional[float] = 0.07,
                 num_workers: Optional[int] = None,
                 logger: Optional[Callable[[str], None]] = None) -> None:
        self.configs = configs
        self.work_dir = work_dir
        self.kmeans_seeds = tuple(kmeans_seeds)
        self.knn_k = knn_k
        self.knn_temperature = knn_temperature
        self.num_workers = num_workers
        self.log = logger or print
        self.rows: Dict[str, Dict[str, float]] = {}
        self.curves: Dict[str, list] = {}

    def run(self) -> str:
        """Train and score every config; write the table; return it."""
        os.makedirs(self.work_dir, exist_ok=True)
        for name, cfg in self.configs.items():
            cfg = copy.deepcopy(cfg)
            cfg.work_dir = osp.join(self.work_dir, name)
            self.log(f'training {name} in {cfg.work_dir}')
            run = train_timed(cfg)
            self.curves[name] = run.pop('curves')
            self.rows[name] = self._score(cfg, run)
            self.log(f'{name}: {self.rows[name]}')
        self._plot_curves()
        return self._write()

    def _plot_curves(self) -> None:
        """Every monitored run on the same axes: by epoch (equal images
        seen) and by training wall time."""
        unmonitored = [name for name, records in self.curves.items()
                       if not records]
        if unmonitored:
            self.log(f'No curves for {unmonitored}: their configs have no '
                     'FeatureMonitorHook.')
        runs = {name: records for name, records in self.curves.items()
                if records}
        if not runs:
            return
        for x, suffix in (('epoch', ''), ('train_seconds', '_time')):
            plot_training_curves(
                runs, osp.join(self.work_dir, f'training_curves{suffix}.png'),
                x=x, title=' vs '.join(runs) + ' during training')

    def _score(self, cfg: Config, run: Dict) -> Dict[str, float]:
        runner = run.pop('runner')
        model = unwrap_model(runner.model)
        loaders = {
            split: runner.build_dataloader(
                extract_dataloader_cfg(cfg, split, self.num_workers))
            for split in ('train', 'test')
        }
        labels = {
            split: np.asarray(loader.dataset.get_gt_labels(), np.int64)
            for split, loader in loaders.items()
        }
        features = {
            split: extract_features(
                model, loader, forward=pooled_backbone, show_progress=False)
            for split, loader in loaders.items()
        }
        scores = evaluate_features(
            features['train'], labels['train'], features['test'],
            labels['test'], len(np.unique(labels['train'])),
            self.kmeans_seeds, self.knn_k, self.knn_temperature)
        pseudo = final_pseudo_labels(runner)
        return dict(
            pseudo_label_nmi=normalized_mutual_info(labels['train'], pseudo),
            num_pseudo_classes=int(len(np.unique(pseudo))),
            kmeans_nmi=scores['nmi'],
            kmeans_acc=scores['acc'],
            knn_top1=scores['knn_top1'],
            feature_dim=scores['dim'],
            **run)

    def table(self) -> str:
        """The comparison as a markdown table."""
        lines = [
            '| algorithm | pseudo-label NMI | k-means NMI | k-means ACC | '
            'kNN top-1 | clustering s/epoch | training s/epoch | '
            'one-off clustering s | total train s |',
            '|---|---|---|---|---|---|---|---|---|',
        ]
        for name, row in self.rows.items():
            lines.append(
                f"| {name} | {row['pseudo_label_nmi']:.4f} | "
                f"{row['kmeans_nmi']:.4f} | {row['kmeans_acc']:.4f} | "
                f"{row['knn_top1']:.4f} | "
                f"{row['clustering_seconds_per_epoch']:.1f} | "
                f"{row['training_seconds_per_epoch']:.1f} | "
                f"{row['initial_clustering_seconds']:.1f} | "
                f"{row['train_seconds']:.0f} |")
        return '\n'.join(lines)

    def _write(self) -> str:
        text = '\n'.join([
            '# ODC vs DeepCluster', '',
            self.table(), '',
            'Features: global average pool of the last backbone stage. '
            'k-means: k = number of classes on the L2-normalised training '
            f'features, mean over seeds {list(self.kmeans_seeds)}. kNN: '
            f'k={self.knn_k}, cosine, temperature {self.knn_temperature}, '
            'test set against the training set. Pseudo-label NMI: the '
            'labels the last epoch trained on, against the classes. '
            'Clustering s/epoch: ODC\'s per-iteration memory work, its '
            're-clusterings of the memory and its re-fills after the first '
            '(extraction + PCA + k-means, if any), DeepCluster\'s '
            'extraction + PCA + k-means; the one-off column '
            'is ODC\'s initial clustering. Times exclude the monitor\'s '
            'measurements.', ''
        ] + ([
            '![curves by epoch](training_curves.png)', '',
            '![curves by wall time](training_curves_time.png)', ''
        ] if any(self.curves.values()) else []))
        with open(osp.join(self.work_dir, 'comparison.md'), 'w') as file:
            file.write(text)
        with open(osp.join(self.work_dir, 'comparison.json'), 'w') as file:
            json.dump(dict(rows=self.rows, curves=self.curves), file,
                      indent=2)
        return text
