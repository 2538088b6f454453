from .compat import apply as apply_compat_fixes
from .config_nodes import find_dicts
from .dist import all_gather_cat, broadcast_, is_distributed
from .download import DownloadError, download_checkpoint
from .progress import current_iteration
from .random_states import (
                            capture_random_states,
                            preserved_random_states,
                            restore_random_states,
)

__all__ = [
    'apply_compat_fixes', 'find_dicts', 'all_gather_cat', 'broadcast_',
    'is_distributed',
    'current_iteration', 'DownloadError', 'download_checkpoint',
    'capture_random_states', 'preserved_random_states',
    'restore_random_states'
]
