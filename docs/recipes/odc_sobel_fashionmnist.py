# Recipe-study row odc4-sobel (docs/recipes/fashion_mnist.md): the
# quickstart ODC config behind the Sobel front end.
_base_ = [
    '../../configs/selfsup/odc/'
    'odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py',
    './sobel_backbone_fashionmnist.py',
]

model = dict(backbone={{_base_.sobel_backbone}})
