"""Training curves from FeatureMonitorHook records."""
import itertools
import json
import os.path as osp
from typing import Dict, List, Mapping, Sequence

import numpy as np
import torch

from mmodc.engine.hooks.feature_monitor_hook import CURVE_FILE
from .cluster_plots import agg_pyplot

#: x-axis key -> its label.
X_AXES = {
    'epoch': 'epoch (equal images seen)',
    'train_seconds': 'training wall time, s (monitor excluded)',
}
#: Most runs named in each panel's own legend; more go in one legend below.
PANEL_LEGEND_RUNS = 4
#: Columns and height per row (inches) of the legend below the panels.
LEGEND_COLUMNS = 4
LEGEND_ROW_INCHES = 0.25


def curve_panels(feature: str) -> Dict[str, List[str]]:
    """Panel title -> the record keys drawn in it.

    Args:
        feature (str): The monitored feature ('backbone' or 'neck').

    Returns:
        dict[str, list[str]]: Four panels: kNN top-1, NMI (k-means of the
        features and the training pseudo-labels), loss, label change ratio.
    """
    return {
        'kNN top-1 (validation)': [f'{feature}/knn_top1'],
        'NMI (validation k-means / pseudo-labels)':
        [f'{feature}/nmi', 'pseudo_label_nmi'],
        'training loss': ['train_loss'],
        'label change ratio': ['train_change_ratio'],
    }


def load_monitor_records(source: str) -> List[dict]:
    """The monitor's records from a work dir, a curve file or a checkpoint.

    Args:
        source (str): A training work dir (holding ``monitor_curves.json``),
            that file, or a checkpoint saved with the monitor.

    Returns:
        list[dict]: One record per measurement, in training order.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: It holds no monitor records.
    """
    path = osp.join(source, CURVE_FILE) if osp.isdir(source) else source
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: train with FeatureMonitorHook in '
            'custom_hooks to record curves.')
    if path.endswith('.json'):
        with open(path) as stream:
            records = json.load(stream)
    else:
        checkpoint = torch.load(path, map_location='cpu', weights_only=False)
        records = checkpoint.get('meta', {}).get('feature_monitor',
                                                 {}).get('records')
    if not records:
        raise ValueError(
            f'{path} holds no FeatureMonitorHook records: train with the '
            'hook in custom_hooks to record curves.')
    return list(records)


def _legend_below(fig, colours: Mapping[str, str], height: float) -> None:
    """One legend under the panels: a line per run in its colour, and the
    two line styles of the NMI panel; the panels are laid out above it.

    Args:
        fig (matplotlib.figure.Figure): The figure of the panels.
        colours (Mapping[str, str]): Run name -> its line colour.
        height (float): Inches kept free for the legend at the bottom.
    """
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=colour, marker='o', markersize=3,
                      label=name) for name, colour in colours.items()]
    handles += [
        Line2D([], [], color='grey', label='NMI panel: k-means (solid)'),
        Line2D([], [], color='grey', linestyle='--',
               label='pseudo-labels (dashed)')
    ]
    fig_height = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, height / fig_height, 1, 1))
    fig.legend(handles=handles, loc='lower center', ncol=LEGEND_COLUMNS,
               fontsize=8, frameon=False)


def plot_training_curves(
        runs: Mapping[str, Sequence[dict]],
        path: str,
        feature: str = 'backbone',
        x: str = 'epoch',
        title: str = 'Training curves') -> Dict[str, Dict[str, np.ndarray]]:
    """Draw the monitor's curves of one or more runs on shared axes.

    Four panels (kNN top-1, NMI, loss, label change ratio); every run has
    one colour (colours repeat after the style's ten), the pseudo-label NMI
    is dashed. Up to ``PANEL_LEGEND_RUNS`` runs are named in each panel's
    legend, more in one legend below the panels. A run that did not record
    a quantity (e.g. DeepCluster has no label change ratio per iteration)
    is named in that panel instead of being left out silently.

    Args:
        runs (Mapping[str, Sequence[dict]]): Run name -> its records.
        path (str): Output image file (PNG).
        feature (str): Which monitored feature. Defaults to 'backbone'.
        x (str): The x axis: 'epoch' or 'train_seconds'.
        title (str): Figure title.

    Returns:
        dict[str, dict[str, np.ndarray]]: Panel title -> line label -> the
        ``P x 2`` (x, y) points drawn, read back from the figure.
    """
    if x not in X_AXES:
        raise ValueError(f'x={x!r}; choose from {sorted(X_AXES)}.')
    counts = {name: len(records) for name, records in runs.items()}
    if not counts or not all(counts.values()):
        raise ValueError('plot_training_curves needs at least one record '
                         f'per run, got {counts}.')
    plt = agg_pyplot()
    panels = curve_panels(feature)
    below = len(runs) > PANEL_LEGEND_RUNS
    # a row per LEGEND_COLUMNS runs, with the two line styles at the end
    legend_rows = -(-(len(runs) + 2) // LEGEND_COLUMNS) if below else 0
    fig, axes = plt.subplots(
        1, len(panels),
        figsize=(4.2 * len(panels), 3.6 + LEGEND_ROW_INCHES * legend_rows))
    colours = dict(zip(runs, itertools.cycle(
        plt.rcParams['axes.prop_cycle'].by_key()['color'])))
    drawn: Dict[str, Dict[str, np.ndarray]] = {}
    for ax, (panel, keys) in zip(axes, panels.items()):
        missing = []
        for name, records in runs.items():
            colour = colours[name]
            for style, key in zip(('-', '--'), keys):
                points = np.array([(r[x], r[key]) for r in records
                                   if key in r and x in r], dtype=float)
                if not len(points):
                    if style == '-':
                        missing.append(name)
                    continue
                label = name if len(keys) == 1 else \
                    f'{name} {key.split("/")[-1]}'
                ax.plot(points[:, 0], points[:, 1], style, color=colour,
                        marker='o', markersize=3, label=label)
        if missing:
            ax.text(0.5, 0.5, 'not recorded: ' + ', '.join(missing),
                    transform=ax.transAxes, ha='center', color='grey')
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel(X_AXES[x])
        ax.grid(alpha=0.3)
        if ax.lines and not below:
            ax.legend(fontsize=8)
        drawn[panel] = {line.get_label(): line.get_xydata()
                        for line in ax.lines}
    fig.suptitle(title)
    if below:
        _legend_below(fig, colours, legend_rows * LEGEND_ROW_INCHES)
    else:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return drawn
