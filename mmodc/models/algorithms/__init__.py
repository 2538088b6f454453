from .odc import ODC

__all__ = ['ODC']
