# DeepCluster on your own images, sized for a CPU: the counterpart of
# configs/selfsup/odc/odc_resnet18-w16_1xb256-steplr-8e_image-folder.py
# (same network, 64 x 64 colour, K from the folder: 'auto' is one cluster
# per 1,000 images, 10 to 10,000). Set `image_folder = '/path/to/images'`
# in a config that takes this one as its base, or
# --cfg-options image_folder=/path/to/images.
_base_ = [
    '../../_base_/models/resnet18-w16_image-folder.py',
    '../../_base_/datasets/image_folder_deepcluster.py',
    '../../_base_/schedules/sgd-steplr-8e_fashionmnist.py',
    '../../_base_/default_runtime.py',
]

image_folder = None  # set it: the folder of training images
num_clusters = 'auto'

model = dict(
    type='DeepCluster',
    channels_last=True,  # faster on CPUs, as the ODC config
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='ClusterClsHead', in_channels=128, num_classes=num_clusters))

custom_hooks = [
    dict(
        type='DeepClusterHook',
        extract_dataloader={{_base_.extract_dataloader}},
        clustering=dict(type='Kmeans', k=num_clusters, pca_dim=64),
        unif_sampling=True,
        reweight=False,
        initial=True,
        interval=1),
    dict(type='RandomStatesHook'),  # exact resume
    dict(
        type='BatchNormCalibrationHook',
        dataloader={{_base_.calibration_dataloader}},
        num_batches=10),
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=2))

env_cfg = dict(dist_cfg=dict(backend='gloo'))
