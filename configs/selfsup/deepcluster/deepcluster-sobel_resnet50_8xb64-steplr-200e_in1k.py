# DeepCluster with the Sobel front end (grey, then the two 3x3 Sobel
# filters: 2 input channels), the reference setting of the published
# DeepCluster ResNet-50; otherwise deepcluster_resnet50_8xb64-steplr-200e.
_base_ = './deepcluster_resnet50_8xb64-steplr-200e_in1k.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='SobelBackbone',
        backbone=dict(
            type='ResNet',
            depth=50,
            in_channels=2,
            out_indices=[3],
            norm_cfg=dict(type='BN'))))
