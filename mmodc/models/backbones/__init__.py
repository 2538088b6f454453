from .sobel_backbone import SobelBackbone

__all__ = ['SobelBackbone']
