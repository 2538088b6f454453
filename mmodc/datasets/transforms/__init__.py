from .checked_load_image import CheckedLoadImageFromFile, UnreadableImageError
from .intensity_jitter import RandomIntensityJitter

__all__ = [
    'CheckedLoadImageFromFile', 'RandomIntensityJitter',
    'UnreadableImageError'
]
