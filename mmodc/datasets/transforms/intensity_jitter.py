"""Random brightness and contrast for grey (and colour) images."""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmodc.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomIntensityJitter(BaseTransform):
    """Scale the contrast and the brightness of an image by random factors.

    The contrast factor ``c`` and the brightness factor ``b`` are drawn
    uniformly from ``[1 - contrast, 1 + contrast]`` and
    ``[1 - brightness, 1 + brightness]``; the image becomes
    ``clip(b * (mean + c * (img - mean)), 0, 255)`` with ``mean`` its mean
    intensity. The same factors apply to every channel, so grey images
    (``H x W``, which MMPretrain's ``ColorJitter`` rejects) and colour
    images keep their hue. Clustering methods need such a jitter: without
    it they group images by overall brightness instead of shape.

    Required keys: ``img`` (uint8). Modified keys: ``img``.

    Args:
        brightness (float): Brightness jitter, in ``[0, 1]``.
            Defaults to 0.4.
        contrast (float): Contrast jitter, in ``[0, 1]``. Defaults to 0.4.
        prob (float): Probability of jittering an image. Defaults to 1.
    """

    def __init__(self,
                 brightness: float = 0.4,
                 contrast: float = 0.4,
                 prob: float = 1.0) -> None:
        for name, value in (('brightness', brightness),
                            ('contrast', contrast), ('prob', prob)):
            if not 0 <= value <= 1:
                raise ValueError(f'RandomIntensityJitter: {name} must be in '
                                 f'[0, 1], got {value}.')
        self.brightness = brightness
        self.contrast = contrast
        self.prob = prob

    def transform(self, results: dict) -> Optional[dict]:
        """Jitter ``results['img']``.

        Args:
            results (dict): The sample, with a uint8 ``img``.

        Returns:
            dict: The sample with the jittered image.
        """
        if np.random.rand() >= self.prob:
            return results
        img = results['img'].astype(np.float32)
        contrast = np.random.uniform(1 - self.contrast, 1 + self.contrast)
        brightness = np.random.uniform(1 - self.brightness,
                                       1 + self.brightness)
        mean = img.mean()
        img = brightness * (mean + contrast * (img - mean))
        results['img'] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(brightness={self.brightness}, '
                f'contrast={self.contrast}, prob={self.prob})')
