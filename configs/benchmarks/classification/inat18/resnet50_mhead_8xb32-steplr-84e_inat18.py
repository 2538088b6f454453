# Multi-head linear evaluation on iNaturalist 2018: the ImageNet setting
# with 8142 classes, a random resized crop and flip, and the LR divided by
# 10 at 24/48/72 of 84 epochs. Run with --cfg-options
# model.backbone.init_cfg.checkpoint=<checkpoint>.
_base_ = [
    '../../../_base_/models/resnet50_multihead.py',
    '../../../_base_/datasets/inat18_mhead.py',
    '../../../_base_/schedules/sgd-nesterov-steplr-90e_mhead.py',
    '../../../_base_/default_runtime.py',
]

model = dict(head=dict(num_classes=8142))

param_scheduler = [
    dict(
        type='MultiStepLR', by_epoch=True, milestones=[24, 48, 72], gamma=0.1)
]
train_cfg = dict(max_epochs=84)
