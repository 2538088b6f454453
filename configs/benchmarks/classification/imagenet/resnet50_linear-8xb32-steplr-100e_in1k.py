# Linear evaluation of the last stage ("AvgPool" column of the benchmark):
# frozen ResNet-50, global average pooling, one linear classifier; SGD lr 30
# without weight decay, the LR divided by 10 at 60/80 of 100 epochs, 8 GPUs
# x 32 images; random resized crop and flip only (OpenSelfSup's 0.x config).
# Run with --cfg-options model.backbone.init_cfg.checkpoint=<checkpoint>.
_base_ = [
    '../../../_base_/models/resnet50_multihead.py',
    '../../../_base_/datasets/imagenet_mhead.py',
    '../../../_base_/schedules/sgd-nesterov-steplr-90e_mhead.py',
    '../../../_base_/default_runtime.py',
]

# the multi-head model's frozen ResNet-50 (and checkpoint), last stage only
model = dict(
    backbone=dict(type='ResNet', out_indices=[3]),
    neck=dict(_delete_=True, type='GlobalAveragePooling'),
    head=dict(
        _delete_=True,
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        init_cfg=dict(type='Normal', layer='Linear', std=0.01, bias=0.)))

train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='RandomResizedCrop', scale=224),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='PackInputs'),
    ]))
val_evaluator = dict(_delete_=True, type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(
        _delete_=True, type='SGD', lr=30., momentum=0.9, weight_decay=0.),
    paramwise_cfg=dict(_delete_=True))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[60, 80], gamma=0.1)
]
train_cfg = dict(max_epochs=100)
