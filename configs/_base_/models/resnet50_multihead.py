# Multi-head linear evaluation (OpenSelfSup's benchmark, 0.x settings): a
# frozen ResNet-50 whose stem and four stages (feature1 .. feature5) are each
# average-pooled to about 9,000 dims, batch-normalised (no affine parameters)
# and classified by their own linear layer; the five heads train together.
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='MultiLevelResNet',
        depth=50,
        in_channels=3,
        out_indices=[0, 1, 2, 3, 4],  # 0 = stem (before the max-pool)
        frozen_stages=4,  # the stem and all four stages
        norm_eval=True,
        # the checkpoint to evaluate (an ODC / DeepCluster run's), given as
        # --cfg-options model.backbone.init_cfg.checkpoint=<path or URL>;
        # without one, mmodc's Pretrained stops with an error
        init_cfg=dict(
            type='Pretrained',
            checkpoint=None,
            prefix='backbone.',
            strict=True)),
    neck=dict(type='MultiPooling', levels=[1, 2, 3, 4, 5], pools='resnet50'),
    head=dict(
        type='MultiLevelClsHead',
        num_classes=1000,
        in_channels=[64, 256, 512, 1024, 2048],
        feat_dims=[9216, 9216, 8192, 9216, 8192],
        levels=[1, 2, 3, 4, 5],
        norm_cfg=dict(type='SyncBN', momentum=0.1, affine=False)))
