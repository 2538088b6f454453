"""Tests of the RandomIntensityJitter transform."""
import numpy as np
import pytest

from mmodc.datasets.transforms import RandomIntensityJitter


def test_identity_without_jitter():
    img = np.arange(28 * 28, dtype=np.int64).reshape(28, 28) % 256
    img = img.astype(np.uint8)
    out = RandomIntensityJitter(brightness=0, contrast=0)(dict(img=img))
    np.testing.assert_array_equal(out['img'], img)
    assert out['img'].dtype == np.uint8


def test_factors_within_range_grey_and_colour():
    rng = np.random.default_rng(0)
    grey = rng.integers(60, 180, (28, 28)).astype(np.uint8)
    transform = RandomIntensityJitter(brightness=0.5, contrast=0.0)
    np.random.seed(0)
    for _ in range(20):
        out = transform(dict(img=grey.copy()))['img']
        assert out.shape == grey.shape and out.dtype == np.uint8
        # Brightness only: a single positive factor in [0.5, 1.5].
        ratio = out.astype(float).mean() / grey.mean()
        assert 0.5 - 0.01 <= ratio <= 1.5 + 0.01
    colour = rng.integers(0, 255, (8, 8, 3)).astype(np.uint8)
    out = RandomIntensityJitter(brightness=0.4, contrast=0.4)(
        dict(img=colour))['img']
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8


def test_contrast_keeps_the_mean_and_clips():
    img = np.array([[100, 140], [120, 120]], dtype=np.uint8)
    transform = RandomIntensityJitter(brightness=0.0, contrast=1.0)
    np.random.seed(1)
    out = transform(dict(img=img.copy()))['img'].astype(float)
    assert out.mean() == pytest.approx(img.mean(), abs=1)
    bright = np.full((4, 4), 250, dtype=np.uint8)
    bright[0, 0] = 0
    out = RandomIntensityJitter(brightness=1.0, contrast=1.0)(
        dict(img=bright))['img']
    assert out.max() <= 255 and out.min() >= 0


def test_prob_zero_and_bad_arguments():
    img = np.full((4, 4), 7, dtype=np.uint8)
    out = RandomIntensityJitter(brightness=1.0, prob=0.0)(dict(img=img))
    assert out['img'] is img
    with pytest.raises(ValueError, match='brightness'):
        RandomIntensityJitter(brightness=1.5)
    assert 'contrast=0.4' in repr(RandomIntensityJitter())
