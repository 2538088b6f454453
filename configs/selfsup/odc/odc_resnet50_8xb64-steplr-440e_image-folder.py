# ODC on your own images with GPUs: the ImageNet recipe (ResNet-50, 8 GPUs x
# 64 images, 440 epochs, the original release's hyper-parameters) on any
# folder of images at 224 x 224, with the memory length and K set from the
# folder ('auto': one cluster per 1,000 images, 10 to 10,000). A config of
# three lines:
#
#   _base_ = ['<mmodc>/configs/selfsup/odc/'
#             'odc_resnet50_8xb64-steplr-440e_image-folder.py']
#   image_folder = '/path/to/images'
#   work_dir = 'work_dirs/my_images_r50'
_base_ = [
    '../../_base_/models/odc.py',
    '../../_base_/datasets/image_folder_224_odc.py',
    '../../_base_/default_runtime.py',
]

image_folder = None  # set it: the folder of training images
num_classes = 'auto'

model = dict(
    head=dict(num_classes=num_classes),
    memory_bank=dict(length='auto', num_classes=num_classes))

custom_hooks = [
    dict(
        type='DeepClusterHook',
        extract_dataloader={{_base_.extract_dataloader}},
        clustering=dict(k=num_classes, pca_dim=-1),  # no PCA for ODC
        init_memory=True,
        initial=True,
        interval=9999999999),  # cluster once, before training
    dict(
        type='ODCHook',
        centroids_update_interval=10,
        deal_with_small_clusters_interval=1,
        evaluate_interval=50,
        reweight=True,
        reweight_pow=0.5),
    dict(type='RandomStatesHook'),  # exact resume
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.06, momentum=0.9, weight_decay=1e-5),
    paramwise_cfg=dict(custom_keys={'head': dict(momentum=0.)}))

param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[400], gamma=0.4)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=440)

default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook', interval=10, max_keep_ckpts=3))

# 8 GPUs x 64 images
auto_scale_lr = dict(base_batch_size=512)
