# Recipe-study row odc4-multicrop (docs/recipes/fashion_mnist.md): the
# quickstart ODC config with multi-crop (SwAV, DeepCluster-v2): besides the
# main 28 x 28 view, two small crops of 20-50 % of each image at 16 x 16,
# each classified into the image's memory label; the loss is the mean over
# the three views, and the memory takes the main view's features. The small
# views cost about a third of the main one each.
_base_ = ['../../configs/selfsup/odc/'
          'odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py']

small_view = dict(
    type='BatchCropFlipJitter',
    crop_ratio_range=(0.2, 0.5),
    flip_prob=0.5,
    brightness=0.8,
    contrast=0.8,
    output_size=(16, 16))

model = dict(data_preprocessor=dict(extra_views=[small_view, small_view]))
