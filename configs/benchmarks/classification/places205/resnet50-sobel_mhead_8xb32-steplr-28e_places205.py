# resnet50_mhead_8xb32-steplr-28e_places205 for a Sobel checkpoint: the
# Sobel front end before a 2-channel ResNet-50.
_base_ = [
    './resnet50_mhead_8xb32-steplr-28e_places205.py',
    '../../../_base_/models/resnet50-sobel_multilevel.py',
]

model = dict(backbone={{_base_.sobel_backbone}})
