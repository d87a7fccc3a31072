"""``ESAMOptimWrapper``: ESAM's cheaper SAM step (Du et al., "Efficient Sharpness-aware
Minimization for Improved Training of Neural Networks", ICLR 2022).

The SAM step of :class:`~ausam_mm.engine.optim_wrappers.sam.SAMMixin` with two changes:

- **Sharpness-sensitive data selection** (``gamma``): the ascent pass runs on the whole batch;
  at ``w + e`` the whole batch is forwarded without gradients, the samples are ranked by their
  loss increase ``l_i(w + e) - l_i(w)``, and the descent forward + backward runs on the top
  ``gamma`` fraction only. The descent gradient is that of their mean loss at ``w + e``.
- **Stochastic weight perturbation** (``perturb_fraction``, off by default): the ascent pass
  computes the gradient of a random ``perturb_fraction`` of the parameter tensors only (the
  others are excluded from its graph), and only those are perturbed, by
  ``rho / perturb_fraction`` (ESAM's scaling).
"""
from contextlib import contextmanager
from typing import Any, Dict, List, Optional, Tuple

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import Tensor, nn

from ...core.options import check_real
from ...core.selection import draw_subset, generator_for, subset_size, top_k_positions
from ...compat.amp import DeviceAmpOptimWrapper
from .per_sample import batch_size_of, per_sample_loss, take_samples
from .recorded_forward import RecordedForward
from .sam import SAMMixin


class ESAMMixin(SAMMixin):
    """SAM step with ESAM's data selection and, optionally, its stochastic weight perturbation.

    Args:
        gamma: fraction of each batch that gets the descent pass, (0, 1]: the
            ``floor(gamma * B)`` samples (at least 1) whose loss rose most under the
            perturbation. 1 is SAM (no ranking forward is run).
        perturb_fraction: fraction of the parameter tensors that the ascent pass computes the
            gradient of and perturbs, (0, 1] (ESAM's ``beta``), drawn from the param groups
            SAM perturbs (``sam_perturb``, see :class:`SAMMixin`); 1 (default): all, as SAM.
        **kwargs: those of :class:`SAMMixin` (``rho``, ``adaptive``, ``interval``, ...).

    Note:
        Contract with the model, as AUSAM's: the loss-mode forward returns per-sample loss
        tensors of shape (B,), and a call restricted to some samples (every tensor and list of
        the call sliced along the batch) gives those samples' losses. ``--esam`` sets
        per-sample losses; no batch sampler or dataset wrapper is needed.
    """

    def __init__(self, *args, gamma: float = 0.5, perturb_fraction: float = 1.0,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        gamma = check_real('gamma', gamma, low=0, high=1, low_open=True)
        perturb_fraction = check_real('perturb_fraction', perturb_fraction, low=0, high=1,
                                      low_open=True)
        if perturb_fraction < 1 and self.sync_perturbation:
            raise ValueError('`perturb_fraction` < 1 leaves parameters out of the ascent pass, '
                             'which DDP cannot all-reduce: set `sync_perturbation=False` (each '
                             'rank perturbs by its own gradient) or `perturb_fraction=1`.')
        self.gamma = gamma
        self.perturb_fraction = perturb_fraction
        self.perturb_seed = sync_random_seed()  # of the weight perturbation's draws; in state_dict
        self.rank = get_dist_info()[0]

    def options(self) -> Dict[str, Any]:
        return dict(super().options(), gamma=self.gamma, perturb_fraction=self.perturb_fraction)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state['esam_seed'] = self.perturb_seed
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        self.perturb_seed = state_dict.pop('esam_seed', self.perturb_seed)
        super().load_state_dict(state_dict)

    # -- stochastic weight perturbation ----------------------------------------------------

    @contextmanager
    def _capture_context(self, model: nn.Module):
        """SAM's context; on a SAM step with ``perturb_fraction < 1`` the parameters left out
        of this step's perturbation do not require grad during the (ascent) forward."""
        left_out = self._left_out() if self.sam_active and self.perturb_fraction < 1 else []
        for p in left_out:
            p.requires_grad_(False)
        try:
            with super()._capture_context(model):
                yield
        finally:
            for p in left_out:
                p.requires_grad_(True)

    def _left_out(self) -> List[Tensor]:
        """A random ``1 - perturb_fraction`` of the trainable parameter tensors that SAM
        perturbs (``sam_perturb`` groups), drawn from (seed, micro-batch count, rank):
        reproducible, and the same after resume."""
        params = [p for group in self._perturbed_params() for p in group if p.requires_grad]
        if not params:
            return []
        count = subset_size(self.perturb_fraction, len(params))
        generator = generator_for(self.perturb_seed, self._inner_count, self.rank)
        kept = set(draw_subset(torch.ones(len(params)), count, generator).tolist())
        return [p for i, p in enumerate(params) if i not in kept]

    def _radii(self) -> List[float]:
        return [rho / self.perturb_fraction for rho in super()._radii()]

    # -- sharpness-sensitive data selection ------------------------------------------------

    def _forward_at_perturbed(self, forward: RecordedForward) -> Tuple[Any, Optional[Tensor]]:
        """(the descent forward's output, each sample's loss at ``w + e``): the ranking forward
        of the whole batch without gradients, then the descent forward of the top ``gamma``
        (both compiled under ``torch.compile``, the ranking between them eager). ``gamma=1``:
        SAM's forward (no ranking: None)."""
        batch = batch_size_of(forward)
        if subset_size(self.gamma, batch) >= batch:
            return super()._forward_at_perturbed(forward), None
        with torch.no_grad():
            ranking = forward.rerun()
        args, kwargs, at_e = self._descent_inputs(forward, ranking, batch)
        return forward.model(*args, **kwargs), at_e

    def _descent_inputs(self, forward: RecordedForward, ranking: Any, batch: int
                        ) -> Tuple[tuple, dict, Tensor]:
        """The recorded call restricted to the samples whose loss rose most, and every
        sample's loss at ``w + e``."""
        at_w = per_sample_loss(forward.output, batch, method='ESAM')
        at_e = per_sample_loss(ranking, batch, method='ESAM')
        chosen = top_k_positions((at_e - at_w).detach(), subset_size(self.gamma, batch))
        args, kwargs = take_samples(forward, chosen, batch)
        return args, kwargs, at_e

    def _second_losses(self, forward: RecordedForward, second: Tuple[Any, Optional[Tensor]]
                       ) -> Tuple[Tensor, Tensor]:
        output, at_e = second
        batch = batch_size_of(forward)
        self.message_hub.update_scalar('train/esam/selected', subset_size(self.gamma, batch))
        if at_e is None:  # gamma = 1
            per_sample_loss(forward.output, batch, method='ESAM')  # ESAM's contract, checked
            return super()._second_losses(forward, output)
        descent_loss, _ = forward.parse_losses(output)
        return descent_loss, at_e.mean()

    compiled_second_pass = ('the forwards at w + e: the ranking one of the batch (no gradients) '
                            'and the descent one of the selected samples (graphs of their own)')


@OPTIM_WRAPPERS.register_module()
class ESAMOptimWrapper(ESAMMixin, OptimWrapper):
    """ESAM around any base optimizer (fp32). See :class:`ESAMMixin` for the arguments.

    Examples:
        >>> optim_wrapper = dict(type='ESAMOptimWrapper', optimizer=dict(type='SGD', lr=0.1),
        >>>                      rho=0.05, gamma=0.5, perturb_fraction=1.0)
    """


@OPTIM_WRAPPERS.register_module()
class AmpESAMOptimWrapper(ESAMMixin, DeviceAmpOptimWrapper):
    """:class:`ESAMOptimWrapper` with automatic mixed precision (``dtype``, ``loss_scale``)."""
