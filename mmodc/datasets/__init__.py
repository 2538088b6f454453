import mmpretrain.datasets  # noqa: F401  (fills the parent registries)

from .fashion_mnist import FashionMNIST

__all__ = ['FashionMNIST']
