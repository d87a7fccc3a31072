"""``AUSAMOptimWrapper``: the SAM step on the selected batch, plus each sample's DLP.

The batch that arrives was already chosen by ``AUSAMBatchSampler``; this wrapper runs
``SAMOptimWrapper``'s step on it unchanged and, from the two forwards it already does, posts
``DLP_i = |l_i(w + e) - l_i(w)|`` for every sample to the run's score history, which
``AUSAMHook`` hands it from the sampler (docs/ausam.md, "The link").
"""
from typing import Any, List, Optional

import torch
from mmengine import dist
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import Tensor

from ...compat.amp import DeviceAmpOptimWrapper
from ...core.history import ScoreHistory
from ..config_help import missing_hook
from .per_sample import per_sample_loss, sample_indices, sample_weights, weighted_loss
from .recorded_forward import RecordedForward
from .sam import SAMMixin


def all_gather_posts(indices: List[int], dlp: Tensor):
    """Every rank's (index, DLP) pairs, so that all ranks keep the same history (MMEngine's
    ``all_gather_object``: any number of pairs per rank; on one process it returns its input)."""
    posts = dist.all_gather_object((indices, dlp.cpu()))
    return (torch.tensor([i for rank_indices, _ in posts for i in rank_indices]),
            torch.cat([rank_dlp for _, rank_dlp in posts]))


class AUSAMMixin(SAMMixin):
    """SAM step + DLP posting. Arguments: those of :class:`SAMMixin`.

    Note:
        Contracts: the model's loss-mode forward returns per-sample loss tensors of shape
        (B,) (``per_sample_loss``), and every data sample carries ``dataset_index``
        (``IndexedDataset``). Both are checked at every step; a mismatch raises, it never
        writes scores to the wrong samples. The history to post into is the sampler's, set by
        ``AUSAMHook`` (:meth:`use_history`); a step without it raises with the config lines.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.history: Optional[ScoreHistory] = None

    def use_history(self, history: ScoreHistory) -> None:
        """Post the DLPs into ``history`` (``AUSAMHook`` passes the sampler's)."""
        self.history = history

    def _linked_history(self) -> ScoreHistory:
        if self.history is None:
            raise RuntimeError(missing_hook(type(self).__name__))
        return self.history

    def _pass_loss(self, forward: RecordedForward, losses: Any, loss: Optional[Tensor] = None
                   ) -> Tensor:
        """With importance weights in the batch: ``mean(w * l)`` for both passes (the
        subset's unbiased estimate of the candidate batch's loss); else SAM's loss."""
        weights = sample_weights(forward)
        if weights is None:
            return super()._pass_loss(forward, losses, loss)
        if losses is forward.output:
            hub = self.message_hub
            hub.update_scalar('train/ausam/weight_min', float(weights.min()))
            hub.update_scalar('train/ausam/weight_max', float(weights.max()))
        return weighted_loss(losses, weights)

    def _after_second_pass(self, forward: RecordedForward, second: Any) -> None:
        history = self._linked_history()
        indices = sample_indices(forward)
        at_w = per_sample_loss(forward.output, len(indices))
        at_e = per_sample_loss(second, len(indices))
        dlp = (at_e - at_w).detach().abs().double()
        history.update(*all_gather_posts(indices, dlp))
        hub = self.message_hub
        hub.update_scalar('train/ausam/selected', len(indices))
        hub.update_scalar('train/ausam/dlp_mean', float(dlp.mean()))
        hub.update_scalar('train/ausam/coverage', history.coverage)


@OPTIM_WRAPPERS.register_module()
class AUSAMOptimWrapper(AUSAMMixin, OptimWrapper):
    """AUSAM: SAM on the subset ``AUSAMBatchSampler`` chose, scores updated from its DLPs.

    Examples:
        >>> optim_wrapper = dict(
        >>>     type='AUSAMOptimWrapper',
        >>>     optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-3),
        >>>     rho=0.1)
        >>> custom_hooks = [dict(type='AUSAMHook')]
        >>> train_dataloader = dict(
        >>>     batch_size=128,
        >>>     batch_sampler=dict(type='AUSAMBatchSampler', ratio=0.5),
        >>>     dataset=dict(type='IndexedDataset', dataset=dict(...)))
    """


@OPTIM_WRAPPERS.register_module()
class AmpAUSAMOptimWrapper(AUSAMMixin, DeviceAmpOptimWrapper):
    """:class:`AUSAMOptimWrapper` with automatic mixed precision (``dtype``, ``loss_scale``)."""
