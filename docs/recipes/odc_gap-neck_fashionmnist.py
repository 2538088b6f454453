# Recipe-study row odc4-gap (docs/recipes/fashion_mnist.md): the quickstart
# ODC config with DeepCluster's neck, the global average pool of the
# backbone: the memory holds (and the head classifies) the backbone
# features themselves instead of a 2-layer MLP's embedding, so ODC and
# DeepCluster train the same network and differ only in how they cluster.
_base_ = ['../../configs/selfsup/odc/'
          'odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py']

model = dict(neck=dict(_delete_=True, type='GlobalAveragePooling'))
