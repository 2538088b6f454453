from .batch_crop_flip_jitter import BatchCropFlipJitter

__all__ = ['BatchCropFlipJitter']
