from .base_clustering import BaseClusteringModel
from .deepcluster import DeepCluster
from .odc import ODC
from .rotation_pred import RotationPred

__all__ = ['BaseClusteringModel', 'DeepCluster', 'ODC', 'RotationPred']
