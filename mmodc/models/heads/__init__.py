from .cluster_cls_head import ClusterClsHead

__all__ = ['ClusterClsHead']
