"""MMEngine metric: clustering quality of predicted cluster ids."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from mmodc.registry import METRICS
from ..functional import clustering_scores


@METRICS.register_module()
class ClusteringMetric(BaseMetric):
    """NMI, ARI, ACC and purity of ``pred_label`` against ``gt_label``.

    For models whose 'predict' mode assigns a cluster to each sample (e.g.
    ODC's head), evaluated on a dataset that serves ``gt_label`` (e.g.
    ``FashionMNIST(with_label=True)``). The labels are for monitoring only.

    Args:
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to
            'clustering'.
    """

    default_prefix: Optional[str] = 'clustering'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep the predicted and true label of every sample.

        Args:
            data_batch: The batch (unused).
            data_samples (Sequence[dict]): The model's predictions.
        """
        for sample in data_samples:
            if 'gt_label' not in sample:
                raise KeyError(
                    'ClusteringMetric needs gt_label in the data samples; '
                    'use a dataset that serves labels (FashionMNIST: '
                    'with_label=True).')
            self.results.append(
                (int(sample['pred_label']), int(sample['gt_label'])))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """Score all collected samples.

        Args:
            results (list[tuple]): ``(pred_label, gt_label)`` pairs.

        Returns:
            dict[str, float]: ``nmi``, ``ari``, ``acc``, ``purity``.
        """
        pred, true = np.array(results, dtype=np.int64).T
        return clustering_scores(true, pred)
