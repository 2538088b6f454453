# The Sobel front end (grey, then the two 3x3 Sobel filters) that DeepCluster
# and ODC use on ImageNet, before the Fashion-MNIST width-16 ResNet-18: the
# network sees edges only, not the overall brightness of a garment, the
# shortcut that the brightness/contrast jitter fights otherwise. A base of
# the recipe-study rows odc4-sobel and dc4-sobel (docs/recipes/
# fashion_mnist.md); `_delete_` replaces the algorithm config's backbone.
sobel_backbone = dict(
    _delete_=True,
    type='SobelBackbone',
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        in_channels=2,  # the two Sobel responses
        stem_channels=16,
        base_channels=16,
        strides=(2, 2, 2, 2),
        norm_cfg=dict(type='BN'),
        out_indices=[3]))
