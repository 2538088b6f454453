# DeepCluster, ResNet-50, 8 GPUs x 64 images, 200 epochs on ImageNet-1k,
# with the hyper-parameters of the OpenMMLab reference (Caron et al., ECCV
# 2018, re-implemented): k-means with k=10,000 on PCA-256 whitened features
# before training and after every epoch, uniform sampling over the
# clusters, the head re-initialised after each clustering.
_base_ = [
    '../../_base_/models/deepcluster.py',
    '../../_base_/datasets/imagenet_deepcluster.py',
    '../../_base_/default_runtime.py',
]

num_classes = 10000

model = dict(head=dict(num_classes=num_classes))

custom_hooks = [
    dict(
        type='DeepClusterHook',
        extract_dataloader={{_base_.extract_dataloader}},
        clustering=dict(type='Kmeans', k=num_classes, pca_dim=256),
        unif_sampling=True,
        reweight=False,
        initial=True,
        interval=1),
    dict(type='RandomStatesHook'),  # exact resume
]

# the head is re-initialised every epoch: no momentum for it, as FAIR's
# per-epoch momentum-free optimizer of the top layer
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-5),
    paramwise_cfg=dict(custom_keys={'head': dict(momentum=0.)}))

# the reference milestone (400) lies beyond the 200 epochs: constant LR
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[400], gamma=0.1)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200)

default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook', interval=10, max_keep_ckpts=3))

# 8 GPUs x 64 images
auto_scale_lr = dict(base_batch_size=512)
