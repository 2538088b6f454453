# Fashion-MNIST from its idx files (Debian: apt-get install
# dataset-fashion-mnist). Override the folder with
# --cfg-options data_root=/path/to/fashion-mnist (and the dataloaders').
dataset_type = 'FashionMNIST'
data_root = '/usr/share/datasets/fashion-mnist'

# the images as they are: the training augmentations run on whole batches
# in the model's data preprocessor (resnet18-w16_fashionmnist.py), which
# needs no dataloader worker (benchmarks/train_step.py)
train_pipeline = [
    # DeepCluster's pseudo-label (DeepClusterDataset); ODC has none
    dict(type='PackInputs', algorithm_keys=['clustering_label']),
]

extract_pipeline = [dict(type='PackInputs')]

# an image file or array for mmodc.apis.inference_model: grey, 28 x 28
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='grayscale'),
    dict(type='Resize', scale=(28, 28)),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=256,
    num_workers=0,  # packing in-memory images: a worker costs more
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))

extract_dataloader = dict(
    batch_size=512,
    num_workers=0,  # workers and 2 OpenMP threads oversubscribe 2 cores
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=extract_pipeline))

# BatchNormCalibrationHook's images: random training images (the same ones
# at every calibration of a run), without augmentation, as extracted.
calibration_dataloader = dict(
    extract_dataloader,
    sampler=dict(type='DefaultSampler', shuffle=True, round_up=False))

# Labelled monitoring sets of FeatureMonitorHook: the kNN bank (and k-means)
# is the first 10,000 training images, the queries the last 5,000 training
# images, a validation split (recipes are chosen on it, never on the test
# split). The labels only score the features; training never sees them.
monitor_bank_dataloader = dict(
    extract_dataloader,
    dataset=dict(
        extract_dataloader['dataset'], index_range=(0, 10000),
        with_label=True))
monitor_query_dataloader = dict(
    extract_dataloader,
    dataset=dict(
        extract_dataloader['dataset'], index_range=(55000, 60000),
        with_label=True))
