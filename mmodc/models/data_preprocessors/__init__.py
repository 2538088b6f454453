from .batch_augment_data_preprocessor import BatchAugmentDataPreprocessor

__all__ = ['BatchAugmentDataPreprocessor']
