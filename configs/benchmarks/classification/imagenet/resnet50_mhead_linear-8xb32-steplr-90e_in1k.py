# Multi-head linear evaluation on ImageNet-1k: frozen ResNet-50, one
# BN + linear classifier on each of feature1 (stem) .. feature5, SGD
# (Nesterov) lr 0.01, steps at 30/60/90 of 90 epochs, 8 GPUs x 32 images.
# Run with --cfg-options model.backbone.init_cfg.checkpoint=<checkpoint>.
_base_ = [
    '../../../_base_/models/resnet50_multihead.py',
    '../../../_base_/datasets/imagenet_mhead.py',
    '../../../_base_/schedules/sgd-nesterov-steplr-90e_mhead.py',
    '../../../_base_/default_runtime.py',
]
