from .checked_pretrained_init import CheckedPretrainedInit

__all__ = ['CheckedPretrainedInit']
