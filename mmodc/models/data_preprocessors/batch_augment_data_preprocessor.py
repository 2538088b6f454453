"""A classification data preprocessor that augments training batches."""
from typing import List, Optional

import torch
from mmpretrain.models import ClsDataPreprocessor

from mmodc.registry import BATCH_AUGMENTS, MODELS


@MODELS.register_module()
class BatchAugmentDataPreprocessor(ClsDataPreprocessor):
    """MMPretrain's ``ClsDataPreprocessor`` that first augments training
    batches with a batch augmentation (e.g. :class:`BatchCropFlipJitter`).

    The augmentation runs on the stacked batch, on the model's device, in
    the pixel range (before the normalisation), in training mode only:
    feature extraction, the monitor and inference see the images as they
    are. With it, the dataset pipeline only packs the images, so per-image
    Python transforms and the dataloader worker that ran them are not
    needed (``benchmarks/train_step.py``).

    With ``extra_views`` (multi-crop), a training batch becomes a list:
    the augmented batch, then one more augmented view of the same images
    per extra augmentation (e.g. smaller crops at a lower resolution), all
    normalised alike.

    Args:
        augment (dict, optional): The batch augmentation's config (from
            ``BATCH_AUGMENTS``); None for none.
        extra_views (list[dict], optional): Batch augmentations of the extra
            views. Defaults to none.
        **kwargs: ``ClsDataPreprocessor``'s arguments (``mean``, ``std``,
            ``to_rgb``...).
    """

    def __init__(self,
                 augment: Optional[dict] = None,
                 extra_views: Optional[List[dict]] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.augment = (BATCH_AUGMENTS.build(augment)
                        if augment is not None else None)
        self.extra_views = [
            BATCH_AUGMENTS.build(view) for view in extra_views or []
        ]
        if self.extra_views and self.augment is None:
            raise ValueError('BatchAugmentDataPreprocessor: extra_views need '
                             'the main view\'s augment.')

    def forward(self, data: dict, training: bool = False) -> dict:
        """Augment (when training), then normalise as
        ``ClsDataPreprocessor``.

        Args:
            data (dict): ``inputs`` (a stacked ``B x C x H x W`` batch) and
                ``data_samples``.
            training (bool): Whether the batch is for a training step.

        Returns:
            dict: ``inputs`` (a list of views with ``extra_views`` when
            training) and ``data_samples``.
        """
        if not (training and self.augment is not None):
            return super().forward(data, training)
        inputs = self.cast_data(data['inputs'])
        if not hasattr(inputs, 'dim') or inputs.dim() != 4:
            raise TypeError(
                'BatchAugmentDataPreprocessor: training batches must be '
                "stacked B x C x H x W tensors: use collate_fn=dict(type="
                "'default_collate') and images of one size.")
        images = inputs.float()
        result = super().forward(
            dict(data, inputs=self.augment(images)), training)
        if self.extra_views:
            result['inputs'] = [result['inputs']] + [
                self.normalise(view(images)) for view in self.extra_views
            ]
        return result

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """Channel order and ``(images - mean) / std`` as for the main
        view."""
        if self.to_rgb and images.shape[1] == 3:
            images = images[:, [2, 1, 0]]
        if self._enable_normalize:
            images = (images - self.mean) / self.std
        return images
