# Rotation prediction (Gidaris et al., ICLR 2018), ResNet-50 on ImageNet-1k
# with the reference settings of OpenSelfSup / MMSelfSup
# (rotation-pred_resnet50_8xb16-steplr-70e_in1k): 8 GPUs x 16 images, each
# shown at 0, 90, 180 and 270 degrees (8 x 64 = 512 per step);
# RandomResizedCrop 224 and a horizontal flip; a 4-way linear head on the
# average-pooled last stage; SGD LR 0.2, momentum 0.9, weight decay 1e-4,
# 5 warm-up epochs from 0.1x, the LR x0.1 after epochs 30 and 50, 70 epochs.
_base_ = [
    '../../_base_/models/deepcluster.py',  # ResNet-50, pooled, linear head
    '../../_base_/datasets/imagenet_odc.py',
    '../../_base_/default_runtime.py',
]

model = dict(
    type='RotationPred',
    backbone=dict(norm_cfg=dict(type='SyncBN')),
    head=dict(num_classes=4))

train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=16,
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=1e-4))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='MultiStepLR', by_epoch=True, milestones=[30, 50], gamma=0.1)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=70)

default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook', interval=10,
                    max_keep_ckpts=3))

# 8 GPUs x 16 images (x 4 rotations)
auto_scale_lr = dict(base_batch_size=128)
