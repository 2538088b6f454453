from .base_clustering import BaseClusteringModel, SelfSupervisedModel
from .codc import CODC
from .codc_member import CODCMember
from .deepcluster import DeepCluster
from .odc import ODC
from .rotation_pred import RotationPred

__all__ = [
    'BaseClusteringModel', 'CODC', 'CODCMember', 'DeepCluster', 'ODC',
    'RotationPred', 'SelfSupervisedModel'
]
