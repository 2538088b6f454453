# DeepCluster on your own images with GPUs: the ImageNet recipe (ResNet-50,
# 8 GPUs x 64 images, 200 epochs, k-means on PCA-256 whitened features
# before training and after every epoch) on any folder of images at
# 224 x 224, with K set from the folder ('auto': one cluster per 1,000
# images, 10 to 10,000). Set `image_folder = '/path/to/images'`.
_base_ = [
    '../../_base_/models/deepcluster.py',
    '../../_base_/datasets/image_folder_224_deepcluster.py',
    '../../_base_/default_runtime.py',
]

image_folder = None  # set it: the folder of training images
num_classes = 'auto'

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
