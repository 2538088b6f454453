# VOC2007 for the SVM benchmark (tools/benchmarks/svm_voc07.py): trainval and
# test in the standard VOCdevkit layout (JPEGImages/, Annotations/,
# ImageSets/Main/{trainval,test}.txt), both unaugmented: short side to 256,
# then 224 x 224, as in FAIR's benchmark. Difficult objects are read from the
# annotations (MMPretrain's VOC dataset).
data_root = 'data/VOCdevkit/VOC2007'
svm_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type='VOC', data_root=data_root, split='trainval',
        pipeline=svm_pipeline))
test_dataloader = dict(
    batch_size=32,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type='VOC', data_root=data_root, split='test', test_mode=True,
        pipeline=svm_pipeline))
