# The three networks of codc-3models_resnet18-w16_1xb256-steplr-8e_
# fashionmnist.py without the collaboration heads: the clustering network
# learns only its own memory's labels (ODC), the rotation network only the
# rotations and the classification network only its mixup classification
# of the clustering network's labels (its task, as in the slides' "before
# CODC" CLS column). The same batches, optimizer and schedule: the "alone"
# rows of the 3-model experiment.
_base_ = './codc-3models_resnet18-w16_1xb256-steplr-8e_fashionmnist.py'

model = dict(
    members=dict(
        clustering=dict(
            heads=dict(_delete_=True, clustering={{_base_.cluster_head}})),
        rotation=dict(heads=dict(_delete_=True)),
        classification=dict(heads=dict(_delete_=True))))
