"""mmodc: Online Deep Clustering and DeepCluster on MMEngine/MMPretrain."""
from .utils.compat import apply as _apply_compat_fixes
from .version import __version__

_apply_compat_fixes()

__all__ = ['__version__']
