"""DeepCluster (Caron et al., ECCV 2018)."""
from typing import Dict, List, Optional

import torch
from mmpretrain.structures import DataSample

from mmodc.registry import MODELS
from .base_clustering import BaseClusteringModel


@MODELS.register_module()
class DeepCluster(BaseClusteringModel):
    """DeepCluster: classify every image into its cluster of the last
    k-means over the whole training set.

    :class:`DeepClusterHook` clusters the features before training and after
    every epoch, hands the labels to the training set (a
    :class:`DeepClusterDataset`, whose pipeline packs them as
    ``clustering_label``), sets :attr:`class_weights` and re-initialises the
    head. The loss is the class-weighted mean cross entropy, whose scale
    does not depend on the number of clusters.

    Args:
        backbone (dict): Backbone config (any MMPretrain backbone, or a
            :class:`SobelBackbone` around one).
        neck (dict): Neck config, e.g. ``GlobalAveragePooling``.
        head (dict): Head config, e.g. :class:`ClusterClsHead`.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialisation config.
        channels_last (bool): Channels-last convolutions (see
            :class:`BaseClusteringModel`). Defaults to False.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 channels_last: bool = False) -> None:
        super().__init__(backbone, neck, head, data_preprocessor, init_cfg,
                         channels_last)
        self.register_buffer(
            'class_weights',
            torch.full((self.head.num_classes, ),
                       1. / self.head.num_classes,
                       dtype=torch.float64))

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Class-weighted cross entropy against the samples' cluster labels.

        Args:
            inputs (torch.Tensor | list[torch.Tensor]): The preprocessed
                images, or their views (multi-crop: the loss is averaged
                over the views).
            data_samples (list[DataSample]): Samples carrying
                ``clustering_label``.

        Returns:
            dict[str, torch.Tensor]: ``loss``.
        """
        labels = self._clustering_labels(data_samples,
                                         self.class_weights.device)
        loss, _ = self.views_loss(inputs, data_samples, labels,
                                  self.class_weights)
        return dict(loss=loss)

    def _clustering_labels(self, data_samples: List[DataSample],
                           device: torch.device) -> torch.Tensor:
        if not data_samples or 'clustering_label' not in data_samples[0]:
            raise KeyError(
                'DeepCluster needs the cluster label of every sample: wrap '
                "the training set in dict(type='DeepClusterDataset', "
                "dataset=...) and pack it with dict(type='PackInputs', "
                "algorithm_keys=['clustering_label']).")
        labels = torch.as_tensor(
            [int(sample.clustering_label) for sample in data_samples],
            device=device)
        if (labels < 0).any():
            raise RuntimeError(
                'DeepCluster: samples without a cluster label (-1): '
                'DeepClusterHook must cluster the training set before '
                'training (keep initial=True in its config).')
        return labels
