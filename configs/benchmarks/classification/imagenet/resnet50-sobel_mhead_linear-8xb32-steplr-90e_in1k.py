# resnet50_mhead_linear-8xb32-steplr-90e_in1k for a Sobel checkpoint (e.g.
# DeepCluster's reference model): the Sobel front end before a 2-channel
# ResNet-50.
_base_ = [
    './resnet50_mhead_linear-8xb32-steplr-90e_in1k.py',
    '../../../_base_/models/resnet50-sobel_multilevel.py',
]

model = dict(backbone={{_base_.sobel_backbone}})
