"""Framework-free AUSAM: the SAM step, the score history and the selection rule (plain
PyTorch; nothing here imports MMEngine)."""
from .history import ScoreHistory
from .importance import (draw_systematic, importance_weights, inclusion_probabilities,
                         systematic_positions)
from .sam import frozen_running_stats, grad_norm, perturb_, restore_
from .selection import (SCORES, AUSAMScore, SelectionScore, UniformScore, build_score,
                        draw_subset, f_max_at, register_score, scaled_scores, subset_size,
                        top_k_positions)

__all__ = [
    'ScoreHistory', 'frozen_running_stats', 'grad_norm', 'perturb_', 'restore_', 'SCORES',
    'AUSAMScore', 'SelectionScore', 'UniformScore', 'build_score', 'draw_subset', 'f_max_at',
    'register_score', 'scaled_scores', 'subset_size', 'top_k_positions', 'draw_systematic',
    'importance_weights', 'inclusion_probabilities', 'systematic_positions'
]
