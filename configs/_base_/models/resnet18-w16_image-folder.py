# The backbone of the CPU-sized image-folder configs (ODC and DeepCluster):
# the quickstart's width-16 ResNet-18 on 3-channel 64 x 64 images.
model = dict(
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        in_channels=3,
        stem_channels=16,
        base_channels=16,
        strides=(2, 2, 2, 2),  # 64 -> 32 -> 16 -> 8 -> 4
        # running statistics, set by BatchNormCalibrationHook
        norm_cfg=dict(type='BN'),
        out_indices=[3]))
