from .centroid_cls_head import CentroidClsHead
from .cluster_cls_head import ClusterClsHead
from .multi_level_cls_head import MultiLevelClsHead

__all__ = ['CentroidClsHead', 'ClusterClsHead', 'MultiLevelClsHead']
