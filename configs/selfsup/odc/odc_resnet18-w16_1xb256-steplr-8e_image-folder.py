# ODC on your own images, sized for a CPU: the quickstart's recipe on a
# folder of images of any size (brought to 64 x 64 colour). The memory
# length and K are set from the folder at the start ('auto': one cluster
# per 1,000 images, 10 to 10,000). Your config is about three lines:
#
#   _base_ = ['<mmodc>/configs/selfsup/odc/'
#             'odc_resnet18-w16_1xb256-steplr-8e_image-folder.py']
#   image_folder = '/path/to/images'
#   work_dir = 'work_dirs/my_images'
#
# or no file at all: --cfg-options image_folder=/path/to/images
_base_ = [
    '../../_base_/models/resnet18-w16_image-folder.py',
    '../../_base_/datasets/image_folder_odc.py',
    '../../_base_/schedules/sgd-steplr-8e_fashionmnist.py',
    '../../_base_/default_runtime.py',
]

image_folder = None  # set it: the folder of training images
num_clusters = 'auto'

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
        type='ClusterClsHead', in_channels=128, num_classes=num_clusters),
    memory_bank=dict(
        type='ODCMemory',
        length='auto',
        feat_dim=128,
        momentum=0.5,
        num_classes=num_clusters,
        min_cluster=20))

custom_hooks = [
    dict(
        type='DeepClusterHook',
        extract_dataloader={{_base_.extract_dataloader}},
        clustering=dict(k=num_clusters, pca_dim=-1),
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
        save_labels_interval=1),
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
