# Multi-head linear evaluation on ImageNet (OpenSelfSup, 0.x): SGD with
# Nesterov momentum, no weight decay on norm layers, the LR divided by 10 at
# epochs 30, 60 and 90 of 90; validation every 10 epochs (checkpoints every
# 10 come from default_runtime.py).
# Places205 and iNat18 keep the optimizer and change the steps and length.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4, nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0.))

param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[30, 60, 90], gamma=0.1)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=90, val_interval=10)
val_cfg = dict()
test_cfg = dict()

# 8 GPUs x 32 images
auto_scale_lr = dict(base_batch_size=256)
