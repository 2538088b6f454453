# ImageNet for the multi-head linear evaluation, in the standard MMPretrain
# layout: data/imagenet/{train,val}/ with meta/train.txt and meta/val.txt.
dataset_type = 'ImageNet'
data_root = 'data/imagenet/'

# AlexNet-style PCA lighting noise of the 0.x config (ImageNet's RGB
# eigenvalues x 255 and eigenvectors, rows in BGR order as images load).
lighting = dict(
    type='Lighting',
    eigval=[55.4625, 4.7940, 1.1475],
    eigvec=[[-0.5836, -0.6948, 0.4203], [-0.5808, -0.0045, -0.8140],
            [-0.5675, 0.7192, 0.4009]],
    alphastd=0.1)

train_pipeline = [
    # float32 so that Lighting's shifts are not wrapped around in uint8
    # (the reference adds them to a float tensor, unclipped)
    dict(type='LoadImageFromFile', to_float32=True),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='ColorJitter',
        brightness=0.4,
        contrast=0.4,
        saturation=0.4,
        hue=0.,
        backend='cv2'),  # the pillow backend takes uint8 only
    lighting,
    dict(type='PackInputs'),
]

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=5,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='meta/train.txt',
        data_prefix='train',
        pipeline=train_pipeline))

# the validation set, in order, through the test pipeline
val_dataloader = dict(
    train_dataloader,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        train_dataloader['dataset'],
        ann_file='meta/val.txt',
        data_prefix='val',
        pipeline=test_pipeline))
val_evaluator = dict(type='MultiHeadAccuracy', topk=(1, 5))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
