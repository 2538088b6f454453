from .batchnorm_calibration_hook import BatchNormCalibrationHook
from .deepcluster_hook import DeepClusterHook
from .feature_monitor_hook import FeatureMonitorHook
from .odc_hook import ODCHook
from .random_states_hook import RandomStatesHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .skipped_samples_hook import SkippedSamplesHook

__all__ = [
    'BatchNormCalibrationHook', 'DeepClusterHook', 'FeatureMonitorHook',
    'ODCHook', 'RandomStatesHook', 'SafeCheckpointHook',
    'SkippedSamplesHook'
]
