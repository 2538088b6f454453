# Recipe-study row dc4-sobel (docs/recipes/fashion_mnist.md): the
# DeepCluster Fashion-MNIST config behind the Sobel front end.
_base_ = [
    '../../configs/selfsup/deepcluster/'
    'deepcluster_resnet18-w16_1xb256-steplr-8e_fashionmnist.py',
    './sobel_backbone_fashionmnist.py',
]

model = dict(backbone={{_base_.sobel_backbone}})
