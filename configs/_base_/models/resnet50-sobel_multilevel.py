# The backbone of the -sobel linear-evaluation configs: DeepCluster's Sobel
# front end (grey, two 3x3 Sobel filters) before the frozen 2-channel
# ResNet-50 of resnet50_multihead.py. A config that inherits a plain one and
# this file sets `model = dict(backbone={{_base_.sobel_backbone}})`. The
# checkpoint's backbone.* keys (backbone.backbone.conv1 ...) load into
# SobelBackbone, as they were saved from it.
sobel_backbone = dict(
    _delete_=True,
    type='SobelBackbone',
    backbone=dict(
        type='MultiLevelResNet',
        depth=50,
        in_channels=2,
        out_indices=[0, 1, 2, 3, 4],
        frozen_stages=4,
        norm_eval=True),
    init_cfg=dict(
        type='Pretrained', checkpoint=None, prefix='backbone.', strict=True))
