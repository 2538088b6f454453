from .intensity_jitter import RandomIntensityJitter

__all__ = ['RandomIntensityJitter']
