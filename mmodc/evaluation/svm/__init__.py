from .average_precision import average_precision
from .cross_validation import fit_with_cross_validation, stratified_folds
from .low_shot_svm import (
    NEGATIVES_PER_POSITIVE,
    NUM_DRAWS,
    SHOTS,
    draw_low_shot_samples,
    load_low_shot_samples,
    low_shot_svm,
    save_low_shot_samples,
)
from .squared_hinge_svm import (
    bias_gram,
    decision_values,
    fit_fixed_costs,
    squared_hinge_svms,
)
from .svm_targets import TARGET_CONVENTIONS, SvmTargets
from .voc07_svm import POSITIVE_WEIGHT, REFERENCE_COSTS, voc07_svm

__all__ = [
    'average_precision', 'fit_with_cross_validation', 'stratified_folds',
    'NEGATIVES_PER_POSITIVE', 'NUM_DRAWS', 'SHOTS', 'draw_low_shot_samples',
    'load_low_shot_samples', 'low_shot_svm', 'save_low_shot_samples',
    'bias_gram', 'decision_values', 'fit_fixed_costs', 'squared_hinge_svms',
    'TARGET_CONVENTIONS', 'SvmTargets', 'POSITIVE_WEIGHT', 'REFERENCE_COSTS',
    'voc07_svm'
]
