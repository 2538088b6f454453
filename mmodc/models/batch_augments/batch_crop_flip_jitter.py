"""Random resized crops, flips and intensity jitter of a whole batch at
once, on the batch's device."""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from mmodc.registry import BATCH_AUGMENTS


@BATCH_AUGMENTS.register_module()
class BatchCropFlipJitter:
    """The quickstart's per-image augmentations as three tensor operations
    on a batch.

    It draws what MMPretrain's ``RandomResizedCrop`` (scale and aspect
    ratio, up to ``max_attempts`` tries, else the whole image), ``RandomFlip``
    (horizontal) and mmodc's ``RandomIntensityJitter`` draw for each image
    (whole-pixel crop boxes), then applies the crop and flip as one affine
    resampling of the whole batch (``grid_sample``, bilinear, as OpenCV
    resizes) and the jitter as one broadcast expression, rounding to whole
    intensities after each as the uint8 transforms do. The parameters come
    from torch's CPU generator (saved by ``RandomStatesHook``), whatever the
    batch's device; in a distributed run every rank draws the same ones
    for its own images.

    Args:
        crop_ratio_range (tuple[float, float]): Area of the crop as a
            fraction of the image's. Defaults to (0.5, 1.0).
        aspect_ratio_range (tuple[float, float]): Width over height of the
            crop. Defaults to (3/4, 4/3).
        max_attempts (int): Draws of scale and ratio until the crop fits;
            after that the whole image. Defaults to 10.
        flip_prob (float): Probability of a horizontal flip. Defaults to 0.5.
        brightness (float): Brightness jitter in ``[0, 1]``. Defaults to 0.8.
        contrast (float): Contrast jitter in ``[0, 1]``. Defaults to 0.8.
        jitter_prob (float): Probability of jittering an image. Defaults to
            1.0.
        value_range (tuple[float, float]): The pixel range, kept after the
            jitter. Defaults to (0, 255).
        output_size (tuple[int, int], optional): Height and width of the
            augmented images (a multi-crop view smaller than the input);
            None keeps the input's. Defaults to None.
    """

    def __init__(self,
                 crop_ratio_range: Tuple[float, float] = (0.5, 1.0),
                 aspect_ratio_range: Tuple[float, float] = (3 / 4, 4 / 3),
                 max_attempts: int = 10,
                 flip_prob: float = 0.5,
                 brightness: float = 0.8,
                 contrast: float = 0.8,
                 jitter_prob: float = 1.0,
                 value_range: Tuple[float, float] = (0., 255.),
                 output_size: Optional[Tuple[int, int]] = None) -> None:
        for name, value in (('flip_prob', flip_prob),
                            ('brightness', brightness),
                            ('contrast', contrast),
                            ('jitter_prob', jitter_prob)):
            if not 0 <= value <= 1:
                raise ValueError(f'BatchCropFlipJitter: {name} must be in '
                                 f'[0, 1], got {value}.')
        if not 0 < crop_ratio_range[0] <= crop_ratio_range[1] <= 1:
            raise ValueError(
                'BatchCropFlipJitter: crop_ratio_range must be (low, high) '
                f'with 0 < low <= high <= 1, got {crop_ratio_range}.')
        self.crop_ratio_range = crop_ratio_range
        self.log_ratio_range = tuple(math.log(r) for r in aspect_ratio_range)
        self.max_attempts = max_attempts
        self.flip_prob = flip_prob
        self.brightness = brightness
        self.contrast = contrast
        self.jitter_prob = jitter_prob
        self.value_range = value_range
        self.output_size = output_size

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """Augment a batch.

        Args:
            inputs (torch.Tensor): ``B x C x H x W`` float images in
                ``value_range``.

        Returns:
            torch.Tensor: The augmented batch (``B x C x`` the output
            size).
        """
        count, channels, height, width = inputs.shape
        theta = self.crop_and_flip_matrices(count, height, width)
        grid = F.affine_grid(
            theta.to(inputs),
            [count, channels, *(self.output_size or (height, width))],
            align_corners=False)
        cropped = F.grid_sample(inputs, grid, mode='bilinear',
                                padding_mode='border', align_corners=False)
        return self.jitter(cropped.round_())

    def crop_and_flip_matrices(self, count: int, height: int,
                               width: int) -> torch.Tensor:
        """Affine matrices (``count x 2 x 3``, normalised coordinates) that
        map each output image to its crop box, mirrored when flipped.

        The boxes are drawn as MMPretrain's ``RandomResizedCrop`` draws
        them: whole-pixel sizes and offsets, the first of ``max_attempts``
        draws that fits, else the central crop of the nearest allowed
        aspect ratio."""
        shape = (count, self.max_attempts)
        area = torch.empty(shape, dtype=torch.float64).uniform_(
            *self.crop_ratio_range) * (height * width)
        ratio = torch.empty(shape, dtype=torch.float64).uniform_(
            *self.log_ratio_range).exp()
        crop_w = (area * ratio).sqrt().round()
        crop_h = (area / ratio).sqrt().round()
        fits = ((crop_w > 0) & (crop_w <= width) & (crop_h > 0)
                & (crop_h <= height))
        first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)
        found = fits.any(dim=1)
        central_w, central_h = self._central_crop(height, width)
        crop_w = torch.where(found, crop_w.gather(1, first)[:, 0], central_w)
        crop_h = torch.where(found, crop_h.gather(1, first)[:, 0], central_h)
        left = (torch.rand(count, dtype=torch.float64) *
                (width - crop_w + 1)).floor()
        top = (torch.rand(count, dtype=torch.float64) *
               (height - crop_h + 1)).floor()
        left = torch.where(found, left, ((width - crop_w) / 2).round())
        top = torch.where(found, top, ((height - crop_h) / 2).round())
        flip = torch.where(torch.rand(count) < self.flip_prob, -1., 1.)
        theta = torch.zeros(count, 2, 3)
        theta[:, 0, 0] = (crop_w / width).float() * flip
        theta[:, 0, 2] = ((2 * left + crop_w) / width - 1).float()
        theta[:, 1, 1] = (crop_h / height).float()
        theta[:, 1, 2] = ((2 * top + crop_h) / height - 1).float()
        return theta

    def _central_crop(self, height: int, width: int) -> Tuple[float, float]:
        """Width and height of the fallback crop: the whole image, cut to
        the nearest allowed aspect ratio."""
        low, high = (math.exp(r) for r in self.log_ratio_range)
        image_ratio = width / height
        if image_ratio < low:
            return float(width), float(round(width / low))
        if image_ratio > high:
            return float(round(height * high)), float(height)
        return float(width), float(height)

    def jitter(self, images: torch.Tensor) -> torch.Tensor:
        """``clip(b * (mean + c * (img - mean)))`` per image, as
        ``RandomIntensityJitter``."""
        count = images.shape[0]
        jittered = torch.rand(count) < self.jitter_prob
        contrast, brightness = (
            torch.where(jittered,
                        torch.empty(count).uniform_(1 - amount, 1 + amount),
                        1.).to(images).view(count, 1, 1, 1)
            for amount in (self.contrast, self.brightness))
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        return (brightness * (mean + contrast * (images - mean))).round_(
        ).clamp_(*self.value_range)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(crop_ratio_range='
                f'{self.crop_ratio_range}, flip_prob={self.flip_prob}, '
                f'brightness={self.brightness}, contrast={self.contrast})')
