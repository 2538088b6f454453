from .deepcluster_sampler import DeepClusterSampler

__all__ = ['DeepClusterSampler']
