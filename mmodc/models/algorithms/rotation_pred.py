"""Rotation prediction (Gidaris et al., ICLR 2018)."""
from typing import Dict, List, Tuple

import torch
from mmpretrain.structures import DataSample

from mmodc.registry import MODELS
from ..losses import weighted_cross_entropy
from ..utils.finite_checks import check_finite_loss
from .base_clustering import BaseClusteringModel

#: The rotations of every image, in quarter turns (0, 90, 180, 270 deg).
NUM_ROTATIONS = 4


def rotate_batch(images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Every image of a batch at 0, 90, 180 and 270 degrees
    (counter-clockwise), and which rotation each copy has.

    Args:
        images (torch.Tensor): ``B x C x H x W`` square images.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``4B x C x H x W`` images (all
        images unrotated, then all at 90 degrees, ...) and their ``4B``
        rotation labels in ``[0, 4)``.
    """
    height, width = images.shape[-2:]
    if height != width:
        raise ValueError(
            f'RotationPred: the training images are {height} x {width}; '
            'rotating by 90 degrees needs square images: crop them square '
            "in the pipeline (e.g. RandomResizedCrop's scale to a square "
            'size).')
    rotated = torch.cat([
        torch.rot90(images, quarter, dims=(2, 3))
        for quarter in range(NUM_ROTATIONS)
    ])
    labels = torch.arange(NUM_ROTATIONS, device=images.device)
    return rotated, labels.repeat_interleave(images.shape[0])


def rotation_losses(scores: torch.Tensor,
                    rotations: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Cross entropy of the rotation scores, and the fraction right.

    Args:
        scores (torch.Tensor): ``N x 4`` scores of the rotated images.
        rotations (torch.Tensor): Their ``N`` rotations.

    Returns:
        dict[str, torch.Tensor]: ``loss`` and ``rotation_accuracy`` (not
        optimised).
    """
    with torch.no_grad():
        accuracy = (scores.argmax(dim=1) == rotations).float().mean()
    return dict(loss=weighted_cross_entropy(scores, rotations),
                rotation_accuracy=accuracy)


@MODELS.register_module()
class RotationPred(BaseClusteringModel):
    """Rotation prediction: every image of the batch is shown at 0, 90, 180
    and 270 degrees, and a 4-way head on the backbone's pooled features
    predicts which rotation it sees (cross entropy, equal weights).

    The rotations are made on the whole batch after the data preprocessor
    (its augmentations included), so a batch of ``B`` images trains on
    ``4B``, as in the reference (MMSelfSup's ``RotationWithLabels``).

    Args:
        backbone (dict): Backbone config.
        neck (dict): Neck config, e.g. ``GlobalAveragePooling``.
        head (dict): Head config with ``num_classes=4``, e.g.
            :class:`ClusterClsHead`.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialisation config.
        channels_last (bool): Channels-last convolutions (see
            :class:`BaseClusteringModel`). Defaults to False.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.head.num_classes != NUM_ROTATIONS:
            raise ValueError(
                f'RotationPred: model.head.num_classes='
                f'{self.head.num_classes}; the head predicts one of '
                f'{NUM_ROTATIONS} rotations: set it to {NUM_ROTATIONS}.')

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Cross entropy of the predicted rotations of the rotated batch.

        Args:
            inputs (torch.Tensor): The preprocessed images.
            data_samples (list[DataSample]): Their data samples.

        Returns:
            dict[str, torch.Tensor]: ``loss`` and ``rotation_accuracy``
            (the fraction of the ``4B`` rotations predicted right).
        """
        if isinstance(inputs, (list, tuple)):
            raise ValueError(
                'RotationPred takes one view per image; remove extra_views '
                'from the data preprocessor.')
        rotated, labels = rotate_batch(inputs)
        rotated_samples = data_samples * NUM_ROTATIONS
        features = self.training_features(rotated, rotated_samples)
        losses = rotation_losses(self.head(features), labels)
        check_finite_loss(type(self).__name__, losses['loss'],
                          rotated_samples, len(rotated_samples))
        return losses
