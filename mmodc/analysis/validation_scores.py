"""Score trained checkpoints on a config's validation split.

:class:`FeatureMonitorHook` scores the features once per epoch with one
k-means seed, a noisy measurement (single seeds of the k-means NMI move by
about 0.02 on Fashion-MNIST's 10,000-image validation bank). To choose
between settings, a run's final checkpoint is scored here on the same
validation split (the config's monitoring bank and queries), with the
monitor's kNN and with several k-means seeds; runs of one setting that
differ by their training seed (``-seedN``) are averaged.
"""
import copy
import os
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmodc.engine.extractor import extract_features, named_feature_forward
from mmodc.engine.hooks.feature_monitor_hook import (
    FeatureMonitorHook,
    class_labels,
)
from mmodc.evaluation.feature_eval import evaluate_features
from mmodc.evaluation.functional import mean_and_std
from mmodc.registry import HOOKS
from .monitor_summary import format_value, group_by_setting
from .odc_report import build_odc_model

#: Column title -> score key of the validation table.
VALIDATION_COLUMNS = {
    'val kNN top-1': 'knn_top1',
    'val k-means NMI': 'nmi',
    'val k-means ACC': 'acc',
    'val k-means ARI': 'ari',
}


def monitor_hook(cfg: Config) -> FeatureMonitorHook:
    """The config's :class:`FeatureMonitorHook`, built (its dataloader
    configs and kNN settings, defaults included).

    Args:
        cfg (Config): A training config.

    Returns:
        FeatureMonitorHook: The hook, not attached to any runner.

    Raises:
        KeyError: The config has no FeatureMonitorHook in ``custom_hooks``.
    """
    for hook in cfg.get('custom_hooks', []):
        if hook.get('type') == 'FeatureMonitorHook':
            return HOOKS.build(copy.deepcopy(hook))
    raise KeyError(
        f'config {cfg.filename!r} has no FeatureMonitorHook in custom_hooks: '
        'its bank_dataloader and query_dataloader define the validation '
        'split; add the hook (as the Fashion-MNIST configs do).')


def validation_scores(cfg: Config,
                      checkpoint: str,
                      kmeans_seeds: Sequence[int] = (0, 1, 2, 3, 4),
                      feature: str = 'backbone') -> Dict[str, float]:
    """kNN top-1 and k-means scores of a checkpoint's features on the
    validation split, as :class:`FeatureMonitorHook` computes them.

    Args:
        cfg (Config): The training config (its FeatureMonitorHook's
            dataloaders and kNN settings are used).
        checkpoint (str): The trained checkpoint.
        kmeans_seeds (Sequence[int]): Seeds of the k-means runs whose
            scores are averaged. Defaults to five seeds.
        feature (str): Which feature, as the monitor names them
            ('backbone', 'neck'). Defaults to 'backbone'.

    Returns:
        dict[str, float]: :func:`evaluate_features`'s scores (``knn_top1``,
        ``nmi``, ``acc``, ``ari``, ``purity`` and the k-means ``*_std``).
    """
    init_default_scope(cfg.get('default_scope', 'mmodc'))
    hook = monitor_hook(cfg)
    model = build_odc_model(cfg, checkpoint)
    features, labels = {}, {}
    for role in ('bank', 'query'):
        loader = Runner.build_dataloader(hook.dataloader_cfgs[role])
        labels[role] = class_labels(loader.dataset, f'monitoring {role} set')
        features[role] = extract_features(
            model, loader, forward=named_feature_forward(feature),
            show_progress=False)
    return evaluate_features(
        features['bank'], labels['bank'], features['query'], labels['query'],
        num_clusters=int(labels['bank'].max()) + 1,
        kmeans_seeds=kmeans_seeds,
        knn_k=hook.knn_k,
        knn_temperature=hook.knn_temperature)


def work_dir_run(work_dir: str) -> Dict[str, str]:
    """The config and last checkpoint of a training work dir.

    Args:
        work_dir (str): A work dir written by ``tools/train.py`` (its config
            dump ``*.py`` and ``last_checkpoint``).

    Returns:
        dict[str, str]: ``config`` and ``checkpoint`` paths.

    Raises:
        FileNotFoundError: The work dir lacks one of them.
    """
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'{work_dir}: no such work dir.')
    configs = sorted(name for name in os.listdir(work_dir)
                     if name.endswith('.py'))
    pointer = osp.join(work_dir, 'last_checkpoint')
    if len(configs) != 1 or not osp.isfile(pointer):
        raise FileNotFoundError(
            f'{work_dir}: expected one config dump (*.py) and a '
            f'last_checkpoint file, found configs {configs} and '
            f'{"a" if osp.isfile(pointer) else "no"} last_checkpoint; pass '
            'the work dir of a finished tools/train.py run.')
    with open(pointer) as stream:
        checkpoint = stream.read().strip()
    if not osp.isabs(checkpoint) or not osp.isfile(checkpoint):
        checkpoint = osp.join(work_dir, osp.basename(checkpoint))
    return dict(config=osp.join(work_dir, configs[0]), checkpoint=checkpoint)


def summarize_settings(runs: Mapping[str, Mapping[str, float]]
                       ) -> List[dict]:
    """Mean and std over training seeds of each setting's scores.

    Args:
        runs (Mapping[str, Mapping[str, float]]): Run name (``-seedN``
            suffixes group runs) -> its :func:`validation_scores`.

    Returns:
        list[dict]: Per setting ``setting``, ``seeds``, each score's mean
        and ``_std`` over the training seeds, and ``nmi_kmeans_std``, the
        mean over runs of the NMI's spread over k-means seeds.
    """
    rows = []
    for setting, names in group_by_setting(list(runs)).items():
        row = dict(setting=setting, seeds=len(names))
        for key in VALIDATION_COLUMNS.values():
            row[key], row[f'{key}_std'] = mean_and_std(
                [runs[name][key] for name in names])
        row['nmi_kmeans_std'] = float(
            np.mean([runs[name]['nmi_std'] for name in names]))
        rows.append(row)
    return rows


def validation_table(rows: Sequence[dict],
                     kmeans_runs: Optional[int] = None) -> str:
    """The settings as markdown: mean ± std over training seeds.

    Args:
        rows (Sequence[dict]): :func:`summarize_settings` output.
        kmeans_runs (int, optional): k-means seeds per run, named in the
            last column's title.

    Returns:
        str: The table.
    """
    runs = f' ({kmeans_runs} k-means seeds)' if kmeans_runs else ''
    titles = list(VALIDATION_COLUMNS) + [f'NMI std over k-means{runs}']
    lines = ['| setting | seeds | ' + ' | '.join(titles) + ' |',
             '|---|---:|' + '---:|' * len(titles)]
    for row in rows:
        cells = [
            format_value(key, row[key]) + (
                f' ± {format_value(key, row[key + "_std"])}'
                if row['seeds'] > 1 else '')
            for key in VALIDATION_COLUMNS.values()
        ]
        cells.append(format_value('nmi', row['nmi_kmeans_std']))
        lines.append(f"| {row['setting']} | {row['seeds']} | " +
                     ' | '.join(cells) + ' |')
    return '\n'.join(lines)
