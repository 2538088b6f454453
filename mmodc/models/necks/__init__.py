from .odc_neck import ODCNeck

__all__ = ['ODCNeck']
