"""A classification data preprocessor that augments training batches."""
from typing import List, Optional

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
        views = [self.augment(images)] + [view(images)
                                          for view in self.extra_views]
        normalise = super().forward  # channel order, mean and std alike
        results = [normalise(dict(data, inputs=view), training)
                   for view in views]
        if self.extra_views:
            results[0]['inputs'] = [result['inputs'] for result in results]
        return results[0]
