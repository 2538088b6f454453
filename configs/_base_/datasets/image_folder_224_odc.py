# Any folder of images at ImageNet resolution, for the ResNet-50 configs on
# GPUs: the ImageNet ODC data settings (imagenet_odc.py: the same
# augmentations, 224 x 224 crops) on MMPretrain's CustomDataset with
# with_label=False (flat or nested folders; their names are never read).
# Images are decoded by CheckedLoadImageFromFile, so training stops at an
# unreadable file and names it. The folder comes from the top-level
# `image_folder` key (see image_folder_odc.py).
dataset_type = 'CheckedCustomDataset'  # CustomDataset, clear errors
data_root = '{image_folder}'

train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),  # stops at a bad file, names it
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
    dict(type='CheckedLoadImageFromFile'),  # stops at a bad file, names it
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
    drop_last=True,  # a last batch of one image would stop BatchNorm
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        with_label=False,
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
        with_label=False,
        pipeline=extract_pipeline))
