# The optimizer and schedule of the Fashion-MNIST configs (ODC and
# DeepCluster alike): SGD, the head without momentum, 8 epochs, the LR
# times 0.4 after 6. LR 0.12: the recipe study's choice for ODC on the
# validation split (docs/recipes/fashion_mnist.md; 0.06 until 2026-12-07).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.12, momentum=0.9, weight_decay=1e-5),
    paramwise_cfg=dict(custom_keys={'head': dict(momentum=0.)}))

param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[6], gamma=0.4)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=8)
