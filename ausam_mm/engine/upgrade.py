"""The one converter of older checkpoints: what ausam_mm 0.1.0 and 0.2.0 wrote, in today's format.

``AUSAMHook`` reads ``checkpoint['ausam']`` through :func:`ausam_state`, the sampler its
history's fingerprint through :func:`upgrade_fingerprint`, and the SAM wrappers their optimizer
state through :func:`upgrade_optimizer_state`, so a checkpoint of 0.1.0 or 0.2.0 resumes as it
is; nothing else in the package knows an older layout. CHANGELOG.md
lists what changed. Delete a layout here when its version is no longer supported.
"""
from typing import Any, Dict, Optional

from .datasets.indexed_dataset import FINGERPRINT_SCHEME, IndexedDataset

#: the checkpoint key of ``AUSAMBatchSampler.state_dict()``
AUSAM_KEY = 'ausam'


def upgrade_ausam_state(state: Dict[str, Any]) -> Dict[str, Any]:
    """``checkpoint['ausam']`` as :meth:`AUSAMBatchSampler.state_dict` writes it today.

    0.1.0 kept the options as ``sampler_options`` (absent in its earliest checkpoints: none
    is compared) and the draws ahead as ``draws_ahead=dict(draws=..., world_size=...)``.
    """
    if 'options' in state:  # today's
        return state
    ahead = state.get('draws_ahead') or {}
    return dict(history=state['history'], start_iter=int(state.get('start_iter', 0)),
                options=dict(state.get('sampler_options') or {}),
                draws_ahead=dict(ahead.get('draws') or {}),
                world_size=int(ahead.get('world_size', 1)))


def ausam_state(checkpoint: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The sampler's state in ``checkpoint``, upgraded; None for a checkpoint without AUSAM
    scores (a SAM or base-optimizer run)."""
    state = checkpoint.get(AUSAM_KEY)
    return None if state is None else upgrade_ausam_state(state)


def upgrade_optimizer_state(state: Dict[str, Any]) -> Dict[str, Any]:
    """The SAM wrappers' ``state_dict()`` as written today (a copy when it changes): 0.1.0
    named the count of optimizer updates ``sam_updates``; it is ``optimizer_updates``."""
    if 'sam_updates' not in state:
        return state
    state = dict(state)
    state['optimizer_updates'] = state.pop('sam_updates')
    return state


def upgrade_fingerprint(history: Dict[str, Any], dataset: IndexedDataset) -> Dict[str, Any]:
    """A score history's state with today's fingerprint of ``dataset`` when it holds the
    fingerprint that ausam_mm <= 0.2.0 wrote (:meth:`IndexedDataset.legacy_fingerprint`) and
    that one matches ``dataset``'s; otherwise as it is (a mismatch is refused by the history,
    which names both)."""
    saved = history.get('fingerprint')
    if saved is None or saved.startswith(FINGERPRINT_SCHEME):
        return history
    if saved == dataset.legacy_fingerprint():
        return dict(history, fingerprint=dataset.fingerprint())
    return history
