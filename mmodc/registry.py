"""Registries of mmodc.

Every registry is a child of the MMPretrain registry of the same name (whose
parent in turn is MMEngine's root), so a config with ``default_scope='mmodc'``
can name any MMPretrain or MMEngine module next to mmodc's own types.
"""
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'BATCH_AUGMENTS', 'TASK_UTILS',
    'METRICS', 'EVALUATORS', 'VISUALIZERS', 'VISBACKENDS', 'FUNCTIONS'
]


def _child(name: str, location: str) -> Registry:
    """Build the mmodc child of an MMPretrain registry.

    Args:
        name (str): Attribute name of the registry in ``mmpretrain.registry``.
        location (str): Module imported when the registry is first searched.

    Returns:
        Registry: A registry with scope ``mmodc`` whose parent is MMPretrain's.
    """
    parent = getattr(mmpretrain_registry, name)
    return Registry(
        parent.name, parent=parent, scope='mmodc', locations=[location])


RUNNERS = _child('RUNNERS', 'mmodc.engine')
RUNNER_CONSTRUCTORS = _child('RUNNER_CONSTRUCTORS', 'mmodc.engine')
LOOPS = _child('LOOPS', 'mmodc.engine')
HOOKS = _child('HOOKS', 'mmodc.engine')
LOG_PROCESSORS = _child('LOG_PROCESSORS', 'mmodc.engine')
OPTIMIZERS = _child('OPTIMIZERS', 'mmodc.engine')
OPTIM_WRAPPERS = _child('OPTIM_WRAPPERS', 'mmodc.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('OPTIM_WRAPPER_CONSTRUCTORS',
                                    'mmodc.engine')
PARAM_SCHEDULERS = _child('PARAM_SCHEDULERS', 'mmodc.engine')
DATASETS = _child('DATASETS', 'mmodc.datasets')
DATA_SAMPLERS = _child('DATA_SAMPLERS', 'mmodc.datasets')
TRANSFORMS = _child('TRANSFORMS', 'mmodc.datasets')
MODELS = _child('MODELS', 'mmodc.models')
MODEL_WRAPPERS = _child('MODEL_WRAPPERS', 'mmodc.models')
WEIGHT_INITIALIZERS = _child('WEIGHT_INITIALIZERS', 'mmodc.models')
BATCH_AUGMENTS = _child('BATCH_AUGMENTS', 'mmodc.models')
TASK_UTILS = _child('TASK_UTILS', 'mmodc.models')
METRICS = _child('METRICS', 'mmodc.evaluation')
EVALUATORS = _child('EVALUATORS', 'mmodc.evaluation')
VISUALIZERS = _child('VISUALIZERS', 'mmodc.engine')
VISBACKENDS = _child('VISBACKENDS', 'mmodc.engine')
# MMPretrain has no FUNCTIONS registry: mmodc's collate functions sit under
# MMEngine's, named with the scope (``type='mmodc.<name>'``)
FUNCTIONS = Registry(MMENGINE_FUNCTIONS.name, parent=MMENGINE_FUNCTIONS,
                     scope='mmodc', locations=['mmodc.datasets'])
