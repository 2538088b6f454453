"""Online Deep Clustering (Zhan et al., CVPR 2020)."""
from typing import Dict, List, Optional

import torch
from mmpretrain.structures import DataSample

from mmodc.registry import MODELS
from ..utils.model_memories import memory_buffer_names
from .base_clustering import BaseClusteringModel, sample_indices


@MODELS.register_module()
class ODC(BaseClusteringModel):
    """Online Deep Clustering.

    Each iteration trains the network to predict the pseudo-labels that the
    memory holds for the batch, then updates the memory with the batch's
    embeddings (see :class:`ODCMemory`). :class:`ODCHook` does the rest of the
    per-iteration memory work; the memory is filled at the start of training
    by :class:`DeepClusterHook` with ``init_memory=True``.

    Args:
        backbone (dict): Backbone config (any MMPretrain backbone).
        neck (dict): Neck config, e.g. :class:`ODCNeck`.
        head (dict): Head config: :class:`ClusterClsHead` (a linear layer,
            the reference) or :class:`CentroidClsHead` (the memory's
            centroids as a cosine classifier).
        memory_bank (dict): :class:`ODCMemory` config.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialisation config.
        channels_last (bool): Channels-last convolutions (see
            :class:`BaseClusteringModel`). Defaults to False.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 memory_bank: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 channels_last: bool = False) -> None:
        super().__init__(backbone, neck, head, data_preprocessor, init_cfg,
                         channels_last)
        self.memory_bank = MODELS.build(memory_bank)
        if self.head.num_classes != self.memory_bank.num_classes:
            raise ValueError(
                f'ODC: model.head.num_classes={self.head.num_classes} differs '
                'from model.memory_bank.num_classes='
                f'{self.memory_bank.num_classes}; set both to the number of '
                'clusters.')
        self._ddp_params_and_buffers_to_ignore = memory_buffer_names(self)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Weighted cross entropy against the memory's labels, then the
        memory update with this batch (after checking that the features and
        the loss are finite: a NaN stops training before the memory is
        written).

        Args:
            inputs (torch.Tensor | list[torch.Tensor]): The preprocessed
                images, or their views (multi-crop: the loss is averaged
                over the views, the memory takes the first).
            data_samples (list[DataSample]): Samples carrying
                ``sample_idx`` (PackInputs packs it by default).

        Returns:
            dict[str, torch.Tensor]: ``loss`` and the ``change_ratio`` of the
            batch's labels (logged, not optimised).
        """
        idx = sample_indices('ODC', data_samples,
                             self.memory_bank.label_bank.device)
        self.head.set_centroids(self.memory_bank.centroids)
        loss, embedding = self.views_loss(inputs, data_samples,
                                          self.memory_bank.labels_of(idx),
                                          self.memory_bank.class_weights)
        change_ratio = self.memory_bank.update_samples_memory(
            idx, embedding.detach())
        return dict(loss=loss, change_ratio=change_ratio)
