# DeepCluster on Fashion-MNIST, the counterpart of the ODC quickstart
# (odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py): the same backbone,
# number of clusters, optimizer, schedule and images seen (8 x 60,000), so
# that only the algorithm differs. k-means on PCA-64 whitened features
# before training and after every epoch, uniform sampling over the clusters,
# the head re-initialised after each clustering.
_base_ = [
    '../../_base_/datasets/fashionmnist_deepcluster.py',
    '../../_base_/default_runtime.py',
]

num_classes = 30

model = dict(
    type='DeepCluster',
    data_preprocessor=dict(
        type='ClsDataPreprocessor', mean=[72.94], std=[90.02], to_rgb=False),
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        in_channels=1,
        stem_channels=16,
        base_channels=16,
        strides=(2, 2, 2, 2),
        norm_cfg=dict(type='BN', track_running_stats=False),
        out_indices=[3]),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='ClusterClsHead', in_channels=128, num_classes=num_classes))

custom_hooks = [
    dict(
        type='DeepClusterHook',
        extract_dataloader={{_base_.extract_dataloader}},
        clustering=dict(type='Kmeans', k=num_classes, pca_dim=64),
        unif_sampling=True,
        reweight=False,
        initial=True,
        interval=1),
    dict(type='RandomStatesHook'),  # exact resume
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.06, momentum=0.9, weight_decay=1e-5),
    paramwise_cfg=dict(custom_keys={'head': dict(momentum=0.)}))

param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[6], gamma=0.4)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=8)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))

env_cfg = dict(dist_cfg=dict(backend='gloo'))
