# DeepCluster on Fashion-MNIST, the counterpart of the ODC quickstart
# (odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py): the same backbone,
# number of clusters, optimizer, schedule and images seen (8 x 60,000), so
# that only the algorithm and its LR differ. k-means on PCA-64 whitened
# features before training and after every epoch, uniform sampling over the
# clusters, the head re-initialised after each clustering.
_base_ = [
    '../../_base_/models/resnet18-w16_fashionmnist.py',
    '../../_base_/datasets/fashionmnist_deepcluster.py',
    '../../_base_/schedules/sgd-steplr-8e_fashionmnist.py',
    '../../_base_/default_runtime.py',
]

num_classes = 30

model = dict(
    type='DeepCluster',
    channels_last=True,  # faster on CPUs, as the ODC config
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='ClusterClsHead', in_channels=128, num_classes=num_classes))

# DeepCluster's own LR, chosen on the validation split
# (docs/recipes/fashion_mnist.md, 2 seeds at 4 epochs: 0.06 / 0.12 / 0.24 /
# 0.48 give kNN 0.785 / 0.822 / 0.829 / 0.832 and k-means NMI 0.596 /
# 0.624 / 0.633 / 0.630); ODC's is 0.12 (the schedule's)
optim_wrapper = dict(optimizer=dict(lr=0.24))

custom_hooks = [
    dict(
        type='DeepClusterHook',
        extract_dataloader={{_base_.extract_dataloader}},
        clustering=dict(type='Kmeans', k=num_classes, pca_dim=64),
        unif_sampling=True,
        reweight=False,
        initial=True,
        interval=1),
    dict(
        type='FeatureMonitorHook',
        bank_dataloader={{_base_.monitor_bank_dataloader}},
        query_dataloader={{_base_.monitor_query_dataloader}},
        interval=1),
    dict(type='RandomStatesHook'),  # exact resume
    # runs first (its priority): eval-mode BatchNorm statistics of the
    # current weights for the clustering, the monitor and the checkpoint
    dict(
        type='BatchNormCalibrationHook',
        dataloader={{_base_.calibration_dataloader}},
        num_batches=10),
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=2))

env_cfg = dict(dist_cfg=dict(backend='gloo'))
