"""MMEngine metric: top-k accuracy of every head of a multi-level model."""
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.evaluation.metrics import Accuracy

from mmodc.registry import METRICS


@METRICS.register_module()
class MultiHeadAccuracy(BaseMetric):
    """Top-k accuracy (%) of each head's ``pred_scores`` against
    ``gt_label``.

    For models whose data samples carry ``pred_scores``, a dict of head
    name -> class scores (e.g. ``MultiLevelClsHead``). The results are
    named ``<head>/top<k>`` (``feature1/top1`` ...); a top-k larger than
    the number of classes is left out.

    Args:
        topk (Sequence[int]): The k of the top-k accuracies. Defaults to
            ``(1, 5)``.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to
            none.
    """

    default_prefix: Optional[str] = ''

    def __init__(self,
                 topk: Sequence[int] = (1, 5),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(topk)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep every head's scores and the true label of each sample.

        Args:
            data_batch: The batch (unused).
            data_samples (Sequence[dict]): The model's predictions.
        """
        for sample in data_samples:
            if 'pred_scores' not in sample or 'gt_label' not in sample:
                raise KeyError(
                    'MultiHeadAccuracy needs pred_scores (a multi-level head '
                    'such as MultiLevelClsHead) and gt_label (a labelled '
                    f'dataset) in the data samples; got {sorted(sample)}.')
            self.results.append(
                ({name: score.cpu()
                  for name, score in sample['pred_scores'].items()},
                 sample['gt_label'].cpu()))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """Top-k accuracy of every head over all collected samples.

        Args:
            results (list[tuple]): ``(scores per head, gt_label)`` pairs.

        Returns:
            dict[str, float]: ``<head>/top<k>`` accuracies in %.
        """
        target = torch.cat([label for _, label in results])
        metrics = {}
        for name in results[0][0]:
            scores = torch.stack([heads[name] for heads, _ in results])
            topk = [k for k in self.topk if k <= scores.size(1)]
            accuracies = Accuracy.calculate(
                scores, target, topk=topk, thrs=(None, ))
            for k, (accuracy, ) in zip(topk, accuracies):
                metrics[f'{name}/top{k}'] = accuracy.item()
        return metrics
