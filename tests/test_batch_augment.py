"""BatchCropFlipJitter draws what the per-image transforms draw and applies
it to whole batches; BatchAugmentDataPreprocessor augments training
batches only."""
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.datasets.transforms import RandomResizedCrop
from mmpretrain.models import ClsDataPreprocessor

from mmodc.models import BatchAugmentDataPreprocessor, BatchCropFlipJitter

NONE = dict(crop_ratio_range=(1., 1.), aspect_ratio_range=(1., 1.),
            flip_prob=0., brightness=0., contrast=0.)


def ramp(count: int = 4, size: int = 28) -> torch.Tensor:
    """Images whose pixel value is 4 times its column (0 .. 108)."""
    columns = torch.arange(size, dtype=torch.float32) * 4
    return columns.expand(count, 1, size, size).clone()


def test_without_randomness_the_batch_is_unchanged_or_mirrored():
    images = torch.randint(0, 256, (4, 1, 28, 28)).float()
    torch.testing.assert_close(BatchCropFlipJitter(**NONE)(images), images)
    flipped = BatchCropFlipJitter(**dict(NONE, flip_prob=1.))(images)
    torch.testing.assert_close(flipped, images.flip(-1))


def test_a_quarter_crop_spans_half_the_ramp():
    """Area 1/4, square: a 14 x 14 crop at a whole-pixel offset, upsampled
    to 28 x 28, so each row climbs half as fast (2 per pixel) from
    ``4 * offset - 1``."""
    out = BatchCropFlipJitter(**dict(NONE, crop_ratio_range=(.25, .25)))(
        ramp(64))
    steps = out[..., 2:-1] - out[..., 1:-2]  # the edges may clamp
    torch.testing.assert_close(steps, torch.full_like(steps, 2.))
    offsets = (out[:, 0, 0, 1] - 1) / 4
    torch.testing.assert_close(offsets, offsets.round())
    assert offsets.min() >= 0 and offsets.max() <= 14
    assert offsets.std() > 2  # the offsets are random


def test_crops_follow_mmpretrain_random_resized_crop():
    """Over many draws, the crop area, aspect ratio and centre have the
    distribution of MMPretrain's RandomResizedCrop (which rounds to
    whole pixels)."""
    torch.manual_seed(0)
    np.random.seed(0)
    count, size = 20000, 28
    augment = BatchCropFlipJitter(crop_ratio_range=(0.3, 1.), flip_prob=0.)
    theta = augment.crop_and_flip_matrices(count, size, size)
    ours = dict(area=theta[:, 0, 0] * theta[:, 1, 1],
                log_ratio=(theta[:, 0, 0] / theta[:, 1, 1]).log(),
                centre_x=(theta[:, 0, 2] + 1) / 2)
    crop = RandomResizedCrop(scale=size, crop_ratio_range=(0.3, 1.))
    image = np.zeros((size, size), np.uint8)
    params = np.array([crop.rand_crop_params(image) for _ in range(count)],
                      dtype=np.float64)
    top, left, height, width = params.T
    theirs = dict(area=height * width / size**2,
                  log_ratio=np.log(width / height),
                  centre_x=(left + width / 2) / size)
    for name, values in ours.items():
        assert float(values.mean()) == pytest.approx(
            theirs[name].mean(), abs=0.01), name
        assert float(values.std()) == pytest.approx(
            theirs[name].std(), abs=0.02), name


def test_jitter_scales_brightness_and_contrast_within_bounds():
    torch.manual_seed(0)
    images = torch.full((2000, 1, 4, 4), 100.)
    images[:, :, :, :2] = 50.  # mean 75, deviation 25
    out = BatchCropFlipJitter(**dict(NONE, brightness=0.5, contrast=0.5))(
        images)
    means = out.mean(dim=(1, 2, 3))
    deviations = (out[:, 0, 0, 3] - out[:, 0, 0, 0]) / 2
    assert means.min() >= 75 * 0.5 - 1e-3 and means.max() <= 75 * 1.5 + 1e-3
    assert float(means.mean()) == pytest.approx(75, abs=1)
    # b * c * 25 with b, c uniform in [0.5, 1.5]
    assert deviations.min() >= 25 * 0.25 - 1e-3
    assert deviations.max() <= 25 * 2.25 + 1e-3
    bright = BatchCropFlipJitter(**dict(NONE, brightness=1.))(images * 2)
    assert bright.max() <= 255


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='brightness must be in'):
        BatchCropFlipJitter(brightness=1.5)
    with pytest.raises(ValueError, match='crop_ratio_range'):
        BatchCropFlipJitter(crop_ratio_range=(0.5, 1.5))


def test_data_preprocessor_augments_training_batches_only():
    init_default_scope('mmodc')
    settings = dict(mean=[72.94], std=[90.02], to_rgb=False)
    augmenting = BatchAugmentDataPreprocessor(
        augment=dict(type='BatchCropFlipJitter'), **settings)
    plain = ClsDataPreprocessor(**settings)
    images = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    batch = dict(inputs=images, data_samples=None)
    expected = plain(batch, False)['inputs']
    torch.testing.assert_close(augmenting(batch, False)['inputs'], expected)
    torch.manual_seed(3)
    trained = augmenting(batch, True)['inputs']
    assert not torch.allclose(trained, expected)
    torch.manual_seed(3)  # drawn from torch's generator: reproducible
    torch.testing.assert_close(augmenting(batch, True)['inputs'], trained)
    with pytest.raises(TypeError, match="default_collate"):
        augmenting(dict(inputs=list(images), data_samples=None), True)


def test_extra_views_are_smaller_crops_of_the_same_images():
    init_default_scope('mmodc')
    small = dict(type='BatchCropFlipJitter', output_size=(16, 16))
    preprocessor = BatchAugmentDataPreprocessor(
        augment=dict(type='BatchCropFlipJitter'), extra_views=[small, small],
        mean=[72.94], std=[90.02], to_rgb=False)
    images = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    views = preprocessor(dict(inputs=images, data_samples=None),
                         True)['inputs']
    assert [tuple(view.shape) for view in views] == [
        (8, 1, 28, 28), (8, 1, 16, 16), (8, 1, 16, 16)]
    assert not torch.equal(views[1], views[2])
    for view in views:  # normalised alike: pixel range (0 - m) / s ..
        assert view.min() >= -72.94 / 90.02 - 1e-4
        assert view.max() <= (255 - 72.94) / 90.02 + 1e-4
    single = preprocessor(dict(inputs=images, data_samples=None), False)
    assert torch.is_tensor(single['inputs'])  # extraction: one view
    with pytest.raises(ValueError, match="main view's augment"):
        BatchAugmentDataPreprocessor(extra_views=[small])


def test_multi_crop_loss_is_the_mean_over_views_and_the_memory_takes_the_main(
        quickstart_cfg):
    from mmpretrain.structures import DataSample

    from mmodc.registry import MODELS
    init_default_scope('mmodc')
    cfg = quickstart_cfg.model.copy()
    cfg.memory_bank.update(length=16, num_classes=4, min_cluster=1)
    cfg.head.num_classes = 4
    model = MODELS.build(cfg).train()
    torch.manual_seed(0)
    model.memory_bank.init_memory(torch.randn(16, 128),
                                  torch.arange(16) % 4)
    samples = [DataSample(metainfo=dict(sample_idx=i)) for i in range(8)]
    views = [torch.randn(8, 1, 28, 28), torch.randn(8, 1, 16, 16)]
    labels = model.memory_bank.label_bank[:8]
    weights = model.memory_bank.class_weights
    both, main = model.views_loss(views, samples, labels, weights)
    alone = [model.views_loss(view, samples, labels, weights)[0]
             for view in views]
    torch.testing.assert_close(both, (alone[0] + alone[1]) / 2)
    torch.testing.assert_close(main, model.extract_feat(views[0]))

    expected = model.memory_bank.feature_bank.clone()
    new = torch.nn.functional.normalize(model.extract_feat(views[0]), dim=1)
    expected[:8] = torch.nn.functional.normalize(
        torch.lerp(expected[:8], new, model.memory_bank.momentum), dim=1)
    model.loss(views, samples)['loss'].backward()
    torch.testing.assert_close(model.memory_bank.feature_bank, expected)
