# iNaturalist 2018 for the multi-head linear evaluation (mmodc's INat18,
# reading the official JSON files): data/inat18/{train2018.json,
# val2018.json} and the images under data/inat18/train_val2018/ (the JSON
# file names start with train_val2018/). The loaders and the test pipeline
# are ImageNet's; training is a random resized crop and a flip (0.x config).
_base_ = './imagenet_mhead.py'

dataset_type = 'INat18'
data_root = 'data/inat18/'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='train2018.json',
        data_prefix='',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        train_dataloader['dataset'],
        ann_file='val2018.json',
        data_prefix='',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
