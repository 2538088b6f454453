# The backbone of the Fashion-MNIST configs (ODC and DeepCluster train the
# same network): a width-16 ResNet-18 on 1-channel 28 x 28 images. The
# algorithm configs add type, neck and head.
model = dict(
    data_preprocessor=dict(
        type='ClsDataPreprocessor', mean=[72.94], std=[90.02], to_rgb=False),
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
