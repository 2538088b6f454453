from .base_clustering import BaseClusteringModel
from .deepcluster import DeepCluster
from .odc import ODC

__all__ = ['BaseClusteringModel', 'DeepCluster', 'ODC']
