# Rotation prediction on Fashion-MNIST, CPU-sized: the backbone,
# augmentations, optimizer and monitor of the ODC quickstart
# (odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py), 64 images per batch,
# each shown at 0, 90, 180 and 270 degrees (256 images per step), for 2
# epochs: the same images through the network per step and in all
# (2 x 4 x 60,000 = 8 x 60,000) as the 8-epoch clustering configs.
_base_ = [
    '../../_base_/models/resnet18-w16_fashionmnist.py',
    '../../_base_/datasets/fashionmnist_odc.py',
    '../../_base_/schedules/sgd-steplr-8e_fashionmnist.py',
    '../../_base_/default_runtime.py',
]

model = dict(
    type='RotationPred',
    channels_last=True,  # faster on CPUs, as the ODC config
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='ClusterClsHead', in_channels=128, num_classes=4))

train_dataloader = dict(batch_size=64)

# RotNet's LR (0.2 in the reference, for 512 rotated images per step);
# the quickstart's 0.06 learns the rotations several times slower
optim_wrapper = dict(optimizer=dict(lr=0.2))

# the LR times 0.4 for the last quarter, as the 8-epoch schedule
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, milestones=[1407], gamma=0.4)
]

# the hooks of the ODC quickstart but its algorithm's own
custom_hooks = [
    dict(
        type='FeatureMonitorHook',
        bank_dataloader={{_base_.monitor_bank_dataloader}},
        query_dataloader={{_base_.monitor_query_dataloader}},
        interval=1),
    dict(type='RandomStatesHook'),  # exact resume
    # runs first (its priority): eval-mode BatchNorm statistics of the
    # current weights for the monitor and the checkpoint
    dict(
        type='BatchNormCalibrationHook',
        dataloader={{_base_.calibration_dataloader}},
        num_batches=10),
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=2))

env_cfg = dict(dist_cfg=dict(backend='gloo'))
