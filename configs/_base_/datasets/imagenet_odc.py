# ImageNet in the standard MMPretrain layout:
#   data/imagenet/train/<class>/<image>.JPEG and data/imagenet/meta/train.txt
# CheckedCustomDataset: MMPretrain's CustomDataset whose errors name the
# annotation line; CheckedLoadImageFromFile stops at an unreadable image
# with its path and line (or skips it: skip_bad_samples = True)
dataset_type = 'CheckedCustomDataset'
data_root = 'data/imagenet/'

train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='NumpyToPIL', to_rgb=True),
    dict(type='torchvision/RandomRotation', degrees=2),
    dict(type='PILToNumpy', to_bgr=True),
    dict(
        type='ColorJitter',
        brightness=0.4,
        contrast=0.4,
        saturation=1.0,
        hue=0.5),
    dict(
        type='RandomGrayscale',
        prob=0.2,
        keep_channels=True,
        channel_weights=(0.114, 0.587, 0.2989)),
    # DeepCluster's pseudo-label (DeepClusterDataset); ODC has none
    dict(type='PackInputs', algorithm_keys=['clustering_label']),
]

extract_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

# one image at a time for mmodc.apis.inference_model: as extracted
test_pipeline = extract_pipeline

train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DeepClusterSampler', replace=True, shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='meta/train.txt',
        data_prefix='train',
        pipeline=train_pipeline))

extract_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='meta/train.txt',
        data_prefix='train',
        pipeline=extract_pipeline))
