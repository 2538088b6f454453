from .deepcluster_hook import DeepClusterHook
from .odc_hook import ODCHook
from .random_states_hook import RandomStatesHook

__all__ = ['DeepClusterHook', 'ODCHook', 'RandomStatesHook']
