# Multi-head linear evaluation on Places205: the ImageNet setting with 205
# classes, Places205's crops, and the LR divided by 10 at 7/14/21 of 28
# epochs. Run with --cfg-options model.backbone.init_cfg.checkpoint=<ckpt>.
_base_ = [
    '../../../_base_/models/resnet50_multihead.py',
    '../../../_base_/datasets/places205_mhead.py',
    '../../../_base_/schedules/sgd-nesterov-steplr-90e_mhead.py',
    '../../../_base_/default_runtime.py',
]

model = dict(head=dict(num_classes=205))

param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[7, 14, 21], gamma=0.1)
]
train_cfg = dict(max_epochs=28)
