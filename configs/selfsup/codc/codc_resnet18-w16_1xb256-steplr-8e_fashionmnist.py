# Collaborative ODC on Fashion-MNIST, CPU-sized: two networks trained in
# one Runner (docs/codc.md).
# - clustering: ODC (the quickstart's width-16 ResNet-18, neck, 30-cluster
#   memory), and a head on the rotation network's memory labels;
# - rotation: rotation prediction (every image at 0, 90, 180, 270 degrees,
#   a 4-way head), an ODC neck and 30-cluster memory of its own embeddings,
#   and a head on the clustering network's memory labels.
# Both see the quickstart's augmented batches of 256 images, for 8 epochs.
# Without the two collaboration heads (``heads.rotation`` of clustering,
# ``heads.clustering`` of rotation) the networks train independently:
# docs/codc.md's "alone" rows.
_base_ = [
    '../../_base_/models/resnet18-w16_fashionmnist.py',
    '../../_base_/datasets/fashionmnist_odc.py',
    '../../_base_/schedules/sgd-steplr-8e_fashionmnist.py',
    '../../_base_/default_runtime.py',
]

num_classes = 30
num_images = 60000

backbone = {{_base_.model.backbone}}
embedding_neck = dict(
    type='ODCNeck',
    in_channels=128,
    hid_channels=256,
    out_channels=128,
    with_avg_pool=True,
    norm_cfg=dict(type='BN1d', affine=False),
    dropout=0.)
memory_bank = dict(
    type='ODCMemory',
    length=num_images,
    feat_dim=128,
    momentum=0.5,
    num_classes=num_classes,
    min_cluster=20)
cluster_head = dict(
    type='ClusterClsHead', in_channels=128, num_classes=num_classes)

model = dict(
    _delete_=True,
    type='CODC',
    channels_last=True,  # faster on CPUs, as the ODC config
    data_preprocessor={{_base_.model.data_preprocessor}},
    members=dict(
        clustering=dict(
            backbone=backbone,
            neck=embedding_neck,
            memory_bank=memory_bank,
            # its own memory's labels (ODC) and the rotation network's
            heads=dict(clustering=cluster_head, rotation=cluster_head)),
        rotation=dict(
            backbone=backbone,
            neck=embedding_neck,
            memory_bank=memory_bank,
            # the clustering network's labels
            heads=dict(clustering=cluster_head),
            task=dict(
                type='rotation',
                neck=dict(type='GlobalAveragePooling'),
                head=dict(
                    type='ClusterClsHead', in_channels=128,
                    num_classes=4)))))

# the cluster heads without momentum (their classes change), as ODC's;
# the rotation head keeps it
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            '_delete_': True,
            '.heads.': dict(momentum=0.)
        }))

custom_hooks = [
    dict(
        type='DeepClusterHook',
        extract_dataloader={{_base_.extract_dataloader}},
        clustering=dict(k=num_classes, pca_dim=-1),
        init_memory=True,  # fills both memories
        initial=True,
        interval=9999999999),
    dict(
        type='ODCHook',  # both memories
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
        features=('clustering.backbone', 'rotation.backbone'),
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
