# The backbone of the Fashion-MNIST configs (ODC and DeepCluster train the
# same network): a width-16 ResNet-18 on 1-channel 28 x 28 images. The
# algorithm configs add type, neck and head.
model = dict(
    # the training augmentations, drawn per image, applied to the whole
    # batch at once (BatchCropFlipJitter): MMPretrain's RandomResizedCrop
    # (scale 0.5-1), a horizontal RandomFlip and RandomIntensityJitter;
    # without the brightness/contrast jitter the clusters follow the overall
    # brightness of the garments instead of their shape. Feature extraction
    # and inference are not augmented.
    data_preprocessor=dict(
        type='BatchAugmentDataPreprocessor',
        mean=[72.94],
        std=[90.02],
        to_rgb=False,
        augment=dict(
            type='BatchCropFlipJitter',
            crop_ratio_range=(0.5, 1.),
            flip_prob=0.5,
            brightness=0.8,
            contrast=0.8)),
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        in_channels=1,
        stem_channels=16,
        base_channels=16,
        strides=(2, 2, 2, 2),  # 28 -> 14 -> 7 -> 4 -> 2: CPU-sized
        # running statistics for eval mode (one image embeds as in any
        # batch); the algorithm configs' BatchNormCalibrationHook sets them
        # to those of the current weights before the first clustering and
        # after every epoch
        norm_cfg=dict(type='BN'),
        out_indices=[3]))
