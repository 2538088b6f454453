"""Evaluation report of a trained ODC model against two baselines.

The learned features (the backbone's globally average-pooled last stage and
the ODC neck embedding) are compared with the same network freshly
initialised and with raw pixels: k-means (k = number of classes) scored by
NMI / ARI / ACC on the training set, and kNN top-1 on the test set with the
training set as the reference. The ODC pseudo-labels held in the memory are
scored too, and two figures (cluster sizes, cluster gallery) are written.
"""
import contextlib
import copy
import json
import logging
import os
import os.path as osp
import time
from typing import Callable, Dict, Iterator, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, set_random_seed

from mmodc.engine.extractor import (
    extract_features,
    pool_last_stage,
    recompute_bn_statistics,
    running_stat_batch_norms,
)
from mmodc.evaluation.feature_eval import evaluate_features
from mmodc.evaluation.functional import clustering_scores
from mmodc.models.utils import read_state_dict
from mmodc.registry import MODELS
from .cluster_plots import plot_cluster_gallery, plot_cluster_sizes
from .curve_plots import load_monitor_records, plot_training_curves
from .monitor_summary import format_value

FEATURE_DESCRIPTIONS = {
    'backbone': 'global average pool of the last backbone stage',
    'neck': 'ODC neck embedding (the features the memory stores)',
    'pixels': 'raw pixels, flattened',
}


class _PixelModel(BaseModel):
    """A 'model' whose features are the raw pixels of its inputs.

    Its data preprocessor only stacks the images and casts them to float,
    so the features are unnormalised pixel values.
    """

    def __init__(self) -> None:
        super().__init__(data_preprocessor=dict(type='ClsDataPreprocessor'))
        self.image_shape: Optional[Tuple[int, ...]] = None

    def forward(self, inputs: torch.Tensor, data_samples=None,
                mode: str = 'tensor') -> torch.Tensor:
        self.image_shape = tuple(inputs.shape[1:])
        return inputs.flatten(1)


def _backbone_and_neck(model: nn.Module, data: dict) -> torch.Tensor:
    """The pooled last backbone stage and the neck output, concatenated."""
    stages = model.backbone(data['inputs'])
    embedding = model.neck(stages)[0]
    return torch.cat([pool_last_stage(stages), embedding.flatten(1)], dim=1)


def extract_odc_features(model: nn.Module,
                         dataloader) -> Dict[str, torch.Tensor]:
    """Backbone (pooled) and neck features of a dataset in one pass.

    Args:
        model (nn.Module): An ODC model (``backbone``, ``neck``).
        dataloader (DataLoader): A deterministic, unshuffled dataloader.

    Returns:
        dict[str, torch.Tensor]: ``backbone`` and ``neck`` features.
    """
    neck_dim = model.neck.fc1.out_features
    features = extract_features(
        model, dataloader, forward=_backbone_and_neck, show_progress=False)
    return dict(
        backbone=features[:, :-neck_dim].contiguous(),
        neck=features[:, -neck_dim:].contiguous())


def extract_pixels(dataloader) -> Tuple[torch.Tensor, Tuple[int, ...]]:
    """Raw pixel features of a dataset and the shape of one image.

    Args:
        dataloader (DataLoader): A deterministic, unshuffled dataloader.

    Returns:
        tuple: ``N x (C*H*W)`` float pixels and ``(C, H, W)``.
    """
    model = _PixelModel()
    pixels = extract_features(model, dataloader, show_progress=False)
    return pixels, model.image_shape


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Silence MMEngine's INFO messages (weight init, checkpoint loading)."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def build_odc_model(cfg: Config,
                    checkpoint: Optional[str] = None,
                    seed: Optional[int] = None) -> nn.Module:
    """Build ``cfg.model`` on the CPU, trained or freshly initialised.

    Args:
        cfg (Config): The training config.
        checkpoint (str, optional): Checkpoint to load (state dict ``state_
            dict``, memory included, also from the shard files of a sharded
            memory); None for a fresh initialisation.
        seed (int, optional): Seed set before building (the config's seed
            reproduces the initial weights of training).

    Returns:
        nn.Module: The model in eval mode.
    """
    if seed is not None:
        set_random_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model))
    with _quiet_logs():
        if checkpoint is None:
            model.init_weights()
        else:
            model.load_state_dict(read_state_dict(checkpoint), strict=True)
    return model.eval()


def extract_dataloader_cfg(cfg: Config, split: str,
                           num_workers: Optional[int] = None) -> dict:
    """The config's deterministic extraction dataloader, for a split.

    Takes ``cfg.extract_dataloader`` (else the one of the first hook that
    has it) and sets ``dataset.split``.

    Args:
        cfg (Config): The training config.
        split (str): Dataset split, e.g. 'train' or 'test'.
        num_workers (int, optional): Override the number of workers.

    Returns:
        dict: A dataloader config for :meth:`Runner.build_dataloader`.
    """
    loader = cfg.get('extract_dataloader')
    if loader is None:
        hooks = [h for h in cfg.get('custom_hooks', [])
                 if 'extract_dataloader' in h]
        if not hooks:
            raise KeyError(
                'The config has no extract_dataloader (neither at the top '
                'level nor in a hook); the report needs a deterministic '
                'dataloader over the dataset.')
        loader = hooks[0]['extract_dataloader']
    loader = copy.deepcopy(loader)
    loader['dataset']['split'] = split
    if num_workers is not None:
        loader['num_workers'] = num_workers
        loader['persistent_workers'] = False
    return loader


class ODCReport:
    """Compute, render and save the ODC evaluation report.

    Args:
        cfg (Config): The training config.
        checkpoint (str): The trained checkpoint.
        work_dir (str): Output folder.
        kmeans_seeds (Sequence[int]): Seeds of the k-means runs whose scores
            are averaged. Defaults to five seeds.
        knn_k (int): kNN neighbours. Defaults to 20.
        knn_temperature (float, optional): kNN vote temperature; None for a
            majority vote. Defaults to 0.07.
        num_workers (int, optional): Workers of the extraction dataloaders.
        calibrate_bn_batches (int): Training batches over which the
            BatchNorm running statistics of the untrained network are
            computed (its initial ones are 0 and 1). Defaults to 20.
        logger (Callable[[str], None], optional): Progress messages.
    """

    def __init__(self,
                 cfg: Config,
                 checkpoint: str,
                 work_dir: str,
                 kmeans_seeds: Sequence[int] = (0, 1, 2, 3, 4),
                 knn_k: int = 20,
                 knn_temperature: Optional[float] = 0.07,
                 num_workers: Optional[int] = None,
                 calibrate_bn_batches: int = 20,
                 logger: Optional[Callable[[str], None]] = None) -> None:
        self.cfg = cfg
        self.checkpoint = checkpoint
        self.work_dir = work_dir
        self.kmeans_seeds = tuple(kmeans_seeds)
        self.knn_k = knn_k
        self.knn_temperature = knn_temperature
        self.num_workers = num_workers
        self.calibrate_bn_batches = calibrate_bn_batches
        self.calibrated_bn = False
        self.log = logger or print
        self.seed = cfg.get('randomness', {}).get('seed', 0) or 0
        self.rows: Dict[str, Dict[str, float]] = {}
        self.odc_labels: Dict[str, float] = {}
        self.curves: list = []
        self.timings: Dict[str, float] = {}

    # ------------------------------------------------------------ running
    def run(self) -> str:
        """Compute everything, write the files and return the markdown."""
        init_default_scope(self.cfg.get('default_scope', 'mmodc'))
        os.makedirs(self.work_dir, exist_ok=True)
        loaders = {
            split: Runner.build_dataloader(
                extract_dataloader_cfg(self.cfg, split, self.num_workers))
            for split in ('train', 'test')
        }
        self.labels = {
            split: np.asarray(loader.dataset.get_gt_labels(), np.int64)
            for split, loader in loaders.items()
        }
        self.class_names = loaders['train'].dataset.metainfo.get('classes')

        trained = self._timed('load checkpoint', build_odc_model, self.cfg,
                              self.checkpoint)
        self._score_model('ODC', trained, loaders)
        self._score_odc_labels(trained)
        untrained = self._timed('build untrained', build_odc_model,
                                self.cfg, None, self.seed)
        self.calibrated_bn = (self.calibrate_bn_batches > 0
                              and bool(running_stat_batch_norms(untrained)))
        if self.calibrated_bn:
            # A fresh network's BatchNorm running statistics are (0, 1);
            # give it statistics of the data, as training would.
            self._timed('BatchNorm statistics of the untrained network',
                        recompute_bn_statistics, untrained, loaders['train'],
                        self.calibrate_bn_batches)
            untrained.eval()
        self._score_model('untrained', untrained, loaders)
        pixels = {}
        for split, loader in loaders.items():
            pixels[split], image_shape = self._timed(
                f'extract pixels {split}', extract_pixels, loader)
        self._score('raw pixels', 'pixels', pixels)
        self._timed('figures', self._figures, trained, pixels['train'],
                    image_shape)
        self._curves()
        return self._write()

    def _timed(self, what: str, function: Callable, *args):
        start = time.perf_counter()
        result = function(*args)
        self.timings[what] = time.perf_counter() - start
        self.log(f'{what}: {self.timings[what]:.1f} s')
        return result

    def _score_model(self, name: str, model: nn.Module,
                     loaders: dict) -> None:
        features = {
            split: self._timed(f'extract {name} {split}',
                               extract_odc_features, model, loader)
            for split, loader in loaders.items()
        }
        for kind in ('backbone', 'neck'):
            self._score(f'{name} {kind}', kind, {
                split: feats[kind]
                for split, feats in features.items()
            })

    def _score(self, name: str, kind: str,
               features: Dict[str, torch.Tensor]) -> None:
        scores = self._timed(
            f'evaluate {name}', evaluate_features, features['train'],
            self.labels['train'], features['test'], self.labels['test'],
            len(np.unique(self.labels['train'])), self.kmeans_seeds,
            self.knn_k, self.knn_temperature)
        scores['kind'] = kind
        self.rows[name] = scores

    def _score_odc_labels(self, model: nn.Module) -> None:
        memory = getattr(model, 'memory_bank', None)
        if memory is None or not bool(memory.initialized):
            self.log('The checkpoint holds no filled ODC memory; skipping '
                     'the pseudo-label scores.')
            return
        labels = memory.label_bank.cpu().numpy()
        sizes = np.bincount(labels, minlength=memory.num_classes)
        self.odc_labels = dict(
            num_clusters=int(memory.num_classes),
            empty=int((sizes == 0).sum()),
            min_size=int(sizes.min()),
            median_size=float(np.median(sizes)),
            max_size=int(sizes.max()),
            **clustering_scores(self.labels['train'], labels))

    def _figures(self, model: nn.Module, pixels: torch.Tensor,
                 image_shape: Tuple[int, ...]) -> None:
        if not self.odc_labels:
            return
        labels = model.memory_bank.label_bank.cpu().numpy()
        plot_cluster_sizes(
            labels, model.memory_bank.num_classes,
            osp.join(self.work_dir, 'cluster_sizes.png'),
            title='ODC cluster sizes (memory labels)')
        images = pixels.reshape(-1, *image_shape).numpy()
        images = images[:, 0] if image_shape[0] == 1 else \
            images.transpose(0, 2, 3, 1) / 255.
        plot_cluster_gallery(
            images, labels, osp.join(self.work_dir, 'cluster_gallery.png'),
            class_labels=self.labels['train'], class_names=self.class_names,
            seed=self.seed)

    def _curves(self) -> None:
        """Plot the FeatureMonitorHook records saved in the checkpoint."""
        try:
            self.curves = load_monitor_records(self.checkpoint)
        except ValueError as error:
            self.log(f'No training curves: {error}')
            return
        plot_training_curves(
            dict(ODC=self.curves),
            osp.join(self.work_dir, 'training_curves.png'),
            title='ODC during training (FeatureMonitorHook)')

    def curve_table(self) -> str:
        """The monitor's records as a markdown table, one row each."""
        columns = {'epoch': 'epoch', 'train s': 'train_seconds',
                   'kNN top-1': 'backbone/knn_top1',
                   'k-means NMI': 'backbone/nmi',
                   'k-means ACC': 'backbone/acc',
                   'pseudo-label NMI': 'pseudo_label_nmi',
                   'loss': 'train_loss', 'change ratio': 'train_change_ratio'}
        lines = ['| ' + ' | '.join(columns) + ' |',
                 '|' + '---:|' * len(columns)]
        for record in self.curves:
            lines.append('| ' + ' | '.join(
                format_value(key, record[key]) if key in record else '-'
                for key in columns.values()) + ' |')
        return '\n'.join(lines)

    # ----------------------------------------------------------- rendering
    def table(self) -> str:
        """The comparison table (markdown)."""
        lines = [
            '| features | dim | k-means NMI | k-means ARI | k-means ACC '
            f'| kNN top-1 (k={self.knn_k}) |',
            '|---|---:|---:|---:|---:|---:|',
        ]
        for name, row in self.rows.items():
            lines.append(
                f"| {name} | {row['dim']} | {row['nmi']:.4f} ± "
                f"{row['nmi_std']:.4f} | {row['ari']:.4f} | "
                f"{row['acc']:.4f} | {row['knn_top1']:.4f} |")
        return '\n'.join(lines)

    def best_kind(self, model: str = 'ODC') -> Optional[str]:
        """The feature kind of ``model`` with the higher kNN top-1 (then
        NMI), or None if ``model`` was not scored."""
        kinds = [
            kind for kind in ('backbone', 'neck')
            if f'{model} {kind}' in self.rows
        ]
        if not kinds:
            return None
        return max(
            kinds,
            key=lambda kind: (self.rows[f'{model} {kind}']['knn_top1'],
                              self.rows[f'{model} {kind}']['nmi']))

    def summary(self) -> str:
        """One sentence per baseline: does the better ODC feature beat it?

        Returns:
            str: Markdown lines (empty if the rows are missing).
        """
        kind = self.best_kind()
        if kind is None:
            return ''
        best = self.rows[f'ODC {kind}']
        lines = [
            f'Better ODC features: *{kind}* (higher kNN top-1 than the '
            'other kind).'
        ]
        for name in (f'untrained {kind}', 'raw pixels'):
            if name not in self.rows:
                continue
            other = self.rows[name]
            verdicts = [
                f"{metric} {best[key]:.4f} vs {other[key]:.4f} "
                f"({'better' if best[key] > other[key] else 'not better'})"
                for metric, key in (('k-means NMI', 'nmi'),
                                    ('kNN top-1', 'knn_top1'))
            ]
            lines.append(f'- ODC {kind} vs {name}: ' + ', '.join(verdicts))
        return '\n'.join(lines)

    def markdown(self) -> str:
        """The whole report (markdown)."""
        num_train = len(self.labels['train'])
        num_test = len(self.labels['test'])
        vote = ('majority vote' if self.knn_temperature is None else
                f'votes weighted exp(cos / {self.knn_temperature})')
        parts = [
            '# ODC evaluation report', '',
            f'- config: `{self.cfg.filename}`',
            f'- checkpoint: `{self.checkpoint}`', '',
            '## Features: learned vs untrained vs pixels', '',
            self.table(), '',
            self.summary(), '',
            f'k-means: k={len(np.unique(self.labels["train"]))} (faiss, 20 '
            f'iterations) on the {num_train} L2-normalised training '
            'features, scored against the classes; mean (± std for NMI) '
            f'over {len(self.kmeans_seeds)} seeds. ACC: best one-to-one '
            f'matching. kNN: the {num_test} test images classified by their '
            f'{self.knn_k} most cosine-similar training images, {vote}. '
            f'"untrained": the same network initialised with seed '
            f'{self.seed}' + (
                f', BatchNorm statistics over {self.calibrate_bn_batches} '
                'batches' if self.calibrated_bn else '') + '.',
            '',
            'Feature kinds: ' + '; '.join(
                f'*{kind}*: {text}'
                for kind, text in FEATURE_DESCRIPTIONS.items()) + '.', ''
        ]
        if self.odc_labels:
            odc = self.odc_labels
            parts += [
                '## ODC pseudo-labels (memory `label_bank`)', '',
                '| clusters | NMI | ARI | purity | sizes min / median / max '
                '| empty |', '|---:|---:|---:|---:|---|---:|',
                f"| {odc['num_clusters']} | {odc['nmi']:.4f} | "
                f"{odc['ari']:.4f} | {odc['purity']:.4f} | "
                f"{odc['min_size']} / {odc['median_size']:.0f} / "
                f"{odc['max_size']} | {odc['empty']} |", '',
                'Purity: every cluster predicts its majority class.', '',
                '![cluster sizes](cluster_sizes.png)', '',
                '![cluster gallery](cluster_gallery.png)', ''
            ]
        if self.curves:
            parts += [
                '## During training (FeatureMonitorHook, validation split)',
                '', self.curve_table(), '',
                'Backbone features of the monitoring sets of the config; '
                'loss and change ratio: means over the epoch before the '
                'measurement.', '',
                '![training curves](training_curves.png)', ''
            ]
        else:
            parts += [
                '## During training', '',
                'The checkpoint holds no FeatureMonitorHook records (the '
                'config has no monitor), so there are no curves.', ''
            ]
        parts += [
            '## Timings', '',
            ', '.join(f'{what} {seconds:.1f} s'
                      for what, seconds in self.timings.items()), ''
        ]
        return '\n'.join(parts)

    def _write(self) -> str:
        text = self.markdown()
        with open(osp.join(self.work_dir, 'odc_report.md'), 'w') as file:
            file.write(text)
        with open(osp.join(self.work_dir, 'odc_report.json'), 'w') as file:
            json.dump(
                dict(
                    config=self.cfg.filename,
                    checkpoint=self.checkpoint,
                    features=self.rows,
                    best_odc_features=self.best_kind(),
                    odc_labels=self.odc_labels,
                    training_curves=self.curves,
                    timings=self.timings),
                file,
                indent=2)
        return text

