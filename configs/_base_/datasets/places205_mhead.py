# Places205 for the multi-head linear evaluation (mmodc's Places205 list
# files): data/places205/{train,val}/ with meta/train_labeled.txt and
# meta/val_labeled.txt. The loaders and the test pipeline are ImageNet's;
# training resizes, centre-crops 256 and random-crops 224 (0.x config).
_base_ = './imagenet_mhead.py'

dataset_type = 'Places205'
data_root = 'data/places205/'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=256),
    dict(type='RandomCrop', crop_size=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='meta/train_labeled.txt',
        data_prefix='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        train_dataloader['dataset'],
        ann_file='meta/val_labeled.txt',
        data_prefix='val',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
