from .multi_pooling import MultiPooling
from .odc_neck import ODCNeck

__all__ = ['MultiPooling', 'ODCNeck']
