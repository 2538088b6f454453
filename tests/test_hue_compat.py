"""ColorJitter's hue shift works on numpy 2 once mmodc is imported."""
import numpy as np
import pytest
from mmpretrain.datasets.transforms import ColorJitter

import mmodc  # noqa: F401
from mmodc.utils.compat import adjust_hue


@pytest.mark.parametrize('backend', ['pillow', 'cv2'])
def test_negative_and_positive_hue_shifts(backend):
    image = np.random.default_rng(0).integers(0, 255, (16, 16, 3), np.uint8)
    left = adjust_hue(image, -0.25, backend)
    right = adjust_hue(image, 0.25, backend)
    assert left.shape == image.shape and left.dtype == np.uint8
    # a quarter turn left and right differ; a half turn either way
    # (nearly) agrees
    assert np.abs(left.astype(int) - right).mean() > 20
    half_left = adjust_hue(image, -0.5, backend).astype(int)
    assert np.abs(half_left - adjust_hue(image, 0.5, backend)).mean() < 3


def test_reference_color_jitter_runs_on_many_draws():
    jitter = ColorJitter(brightness=0.4, contrast=0.4, saturation=1.0,
                         hue=0.5)
    image = np.random.default_rng(1).integers(0, 255, (16, 16, 3), np.uint8)
    for _ in range(50):
        assert jitter(dict(img=image.copy()))['img'].shape == image.shape
