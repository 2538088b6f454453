from .weighted_cross_entropy import weighted_cross_entropy

__all__ = ['weighted_cross_entropy']
