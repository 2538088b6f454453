# The quickstart's ODC (odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py)
# trained 5 times longer: 40 epochs of Fashion-MNIST's 60,000 training
# images, the LR times 0.4 after 30 and again after 36 epochs. About an
# hour on a 2-core CPU: how far ODC goes with compute.
_base_ = './odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py'

param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[30, 36], gamma=0.4)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=40)
