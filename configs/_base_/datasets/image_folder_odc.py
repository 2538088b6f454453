# Any folder of images, flat or in sub-folders (their names are never read):
# MMPretrain's CustomDataset with with_label=False, every image decoded in
# colour (grey images become 3 equal channels) and brought to 64 x 64 for a
# CPU-sized network. The folder comes from the top-level `image_folder`
# key (mmodc.engine.resolve_image_folder puts it where '{image_folder}'
# stands), so a user's config only sets `image_folder = '/path'`.
dataset_type = 'CheckedCustomDataset'  # CustomDataset, clear errors
data_root = '{image_folder}'
image_size = 64

train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),  # stops at a bad file, names it
    dict(type='RandomResizedCrop', scale=image_size,
         crop_ratio_range=(0.3, 1.)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
         hue=0.1),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    # DeepCluster's pseudo-label (DeepClusterDataset); ODC has none
    dict(type='PackInputs', algorithm_keys=['clustering_label']),
]

# unaugmented: the short side to the training size, the centre crop
extract_pipeline = [
    dict(type='CheckedLoadImageFromFile'),  # stops at a bad file, names it
    dict(type='ResizeEdge', scale=image_size, edge='short'),
    dict(type='CenterCrop', crop_size=image_size),
    dict(type='PackInputs'),
]

# one image at a time for mmodc.apis.inference_model: as extracted
test_pipeline = extract_pipeline

train_dataloader = dict(
    batch_size=256,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    # a last batch of one image would stop BatchNorm (N = 1 mod 256)
    drop_last=True,
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        with_label=False,
        pipeline=train_pipeline))

extract_dataloader = dict(
    batch_size=256,
    num_workers=1,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        with_label=False,
        pipeline=extract_pipeline))

# BatchNormCalibrationHook's images: random training images, unaugmented
calibration_dataloader = dict(
    extract_dataloader,
    sampler=dict(type='DefaultSampler', shuffle=True, round_up=False))
