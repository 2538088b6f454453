# The optimizer and schedule of the Fashion-MNIST configs (ODC and
# DeepCluster alike): SGD, the head without momentum, 8 epochs, the LR
# times 0.4 after 6.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.06, momentum=0.9, weight_decay=1e-5),
    paramwise_cfg=dict(custom_keys={'head': dict(momentum=0.)}))

param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[6], gamma=0.4)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=8)
