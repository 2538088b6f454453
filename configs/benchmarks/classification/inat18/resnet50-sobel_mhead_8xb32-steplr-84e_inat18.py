# resnet50_mhead_8xb32-steplr-84e_inat18 for a Sobel checkpoint: the Sobel
# front end before a 2-channel ResNet-50.
_base_ = [
    './resnet50_mhead_8xb32-steplr-84e_inat18.py',
    '../../../_base_/models/resnet50-sobel_multilevel.py',
]

model = dict(backbone={{_base_.sobel_backbone}})
