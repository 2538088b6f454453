# svm_resnet50_voc07.py for a Sobel checkpoint (DeepCluster's reference
# model): the Sobel front end before a 2-channel ResNet-50.
_base_ = [
    './svm_resnet50_voc07.py',
    '../../../_base_/models/resnet50-sobel_multilevel.py',
]

model = dict(backbone={{_base_.sobel_backbone}})
