# ODC quickstart: a width-16 ResNet-18 on Fashion-MNIST's 60,000 training
# images, sized for a 2-core CPU (a few minutes). `bash tools/quickstart.sh`
# trains it and writes the evaluation report.
_base_ = [
    '../../_base_/models/resnet18-w16_fashionmnist.py',
    '../../_base_/datasets/fashionmnist_odc.py',
    '../../_base_/schedules/sgd-steplr-8e_fashionmnist.py',
    '../../_base_/default_runtime.py',
]

num_classes = 30
num_images = 60000

model = dict(
    type='ODC',
    # oneDNN runs channels-last convolutions faster on CPUs
    # (benchmarks/train_step.py); the same results up to float rounding
    channels_last=True,
    neck=dict(
        type='ODCNeck',
        in_channels=128,
        hid_channels=256,
        out_channels=128,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d', affine=False),
        dropout=0.),
    head=dict(
        type='ClusterClsHead', in_channels=128, num_classes=num_classes),
    memory_bank=dict(
        type='ODCMemory',
        length=num_images,
        feat_dim=128,
        momentum=0.5,
        num_classes=num_classes,
        min_cluster=20))

# ODC's hooks as in the reference: the memory's labels change only online.
# The 40-epoch and CODC configs keep these (custom_hooks =
# {{_base_.reference_hooks}}): their results were measured with them.
reference_hooks = [
    dict(
        type='DeepClusterHook',
        extract_dataloader={{_base_.extract_dataloader}},
        clustering=dict(k=num_classes, pca_dim=-1),
        init_memory=True,
        initial=True,
        interval=9999999999),
    dict(
        type='ODCHook',
        centroids_update_interval=10,
        deal_with_small_clusters_interval=1,
        evaluate_interval=50,
        reweight=True,
        reweight_pow=0.5,
        save_labels_interval=None),
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
# The quickstart re-fills its memory after every epoch but the last: the
# DeepClusterHook extracts every training image's embedding as DeepCluster
# does (eval mode, un-augmented image), clusters their whitened PCA-64 by
# k-means (before training too) and renumbers the clusters after the
# memory's labels (match_labels, so the head's classes keep their meaning);
# within an epoch the memory is updated online as in the reference. Chosen
# on the validation split over 8 epochs and 2 seeds at LR 0.12
# (2026-12-07, docs/recipes/fashion_mnist.md, sixth screening) against the
# memory's own k-means re-clustering after every epoch.
custom_hooks = [
    dict(hook, interval=1, clustering=dict(hook['clustering'], pca_dim=64))
    if hook['type'] == 'DeepClusterHook' else hook for hook in reference_hooks
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=2))

env_cfg = dict(dist_cfg=dict(backend='gloo'))
