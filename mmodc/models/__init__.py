import mmpretrain.models  # noqa: F401  (fills the parent registries)

from .algorithms import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .batch_augments import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .memories import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
