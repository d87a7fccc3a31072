"""``SAMOptimWrapper``: SAM inside MMEngine's one-pass ``train_step``, no model or loop change.

MMEngine's ``BaseModel.train_step`` (and ``MMDistributedDataParallel.train_step``) runs the
forward inside ``optim_wrapper.optim_context(model)`` and then calls
``optim_wrapper.update_params(loss)``. The wrapper records that forward's inputs while the
context is open and, in ``update_params``, does the rest of the SAM step (docs/ausam.md, "The
SAM step"): ascent backward, ``w + e``, a second forward + backward on the same inputs
(BatchNorm running statistics frozen), ``w`` restored, then the base optimizer's clipped step.

The step is this module's; the other concerns are modules of their own, each used here:
which updates are SAM ones (:mod:`.sam_schedule`), the recorded forward
(:mod:`.recorded_forward`), ``torch.compile`` (:mod:`.eager_steps`), the resume rule
(:mod:`.resume_rule`) and the non-finite rule (:mod:`.non_finite`).
"""
import logging
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import Tensor, nn

from ...compat.amp import DeviceAmpOptimWrapper
from ...core.options import check_bool, check_real
from ...core.sam import ascend_, frozen_running_stats, restore_, stash_grads, unstash_grads
from ..upgrade import upgrade_optimizer_state
from .eager_steps import EagerContext, compile_note, compiled_by_runner, run_eagerly
from .non_finite import check_finite, log_sam_step
from .param_groups import group_keys, keep_group_keys, log_option_changes, set_group_keys
from .recorded_forward import RecordedForward, checked, recording
from .sam_schedule import SAMStepSchedule
from .sharding import refuse_sharded

#: one radius for SAM and AUSAM, so that switching between them keeps it (docs/ausam.md,
#: "Defaults of the reference recipe" says why 0.05)
DEFAULT_RHO = 0.05


@dataclass
class _SAMPass:
    """A SAM update between its ascent and its descent: the recorded forward, the loss at ``w``,
    the moved parameters with their saved values, ``||g||`` and the open second-pass context."""

    forward: RecordedForward
    loss: Tensor
    saved: List[Tensor]
    perturbed: List[Tensor]
    norm: Tensor
    context: ExitStack


class SAMMixin:
    """The SAM step, mixed into an MMEngine optimizer wrapper (fp32 or AMP).

    Args (docs/ausam.md has each one's effect):
        rho: SAM radius, 0.05 by default; a param group may carry its own ``'rho'``, and a
            ``param_name='rho'`` param scheduler schedules it.
        adaptive, eta: ASAM's elementwise scaling ``T = |w| + eta`` (eta 0.01 by default).
        sync_perturbation: under DDP, all-reduce the ascent gradient (one ``e`` for all ranks).
        interval, begin, end, by_epoch, probability: which optimizer updates are SAM ones
            (:class:`~.sam_schedule.SAMStepSchedule`); by default every one.

    Note:
        Contracts: inside ``optim_context`` the model is called exactly once
        (``BaseModel.train_step`` does), and calling it again with the same inputs gives the
        loss dict at the current weights. A param group with ``sam_perturb=False`` (through
        ``paramwise_cfg.custom_keys``) is updated but not perturbed, and left out of ``||g||``.
        With ``accumulative_counts > 1`` each micro-batch is perturbed by its own gradient.
        Under ``compile=True`` only the model's forward and :meth:`_forward_at_perturbed` are
        traced (:mod:`.eager_steps`): keep Python bookkeeping out of the latter.
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        run_eagerly(cls)

    def __init__(self, *args, rho: float = DEFAULT_RHO, adaptive: bool = False,
                 eta: Optional[float] = None, sync_perturbation: bool = False,
                 interval: int = 1, begin: Union[int, float] = 0,
                 end: Union[int, float, None] = None, by_epoch: Optional[bool] = None,
                 probability: float = 1.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rho = check_real('rho', rho, low=0)  # as configured; the groups' 'rho' is used
        self.eta = check_real('eta', 0.01 if eta is None else eta, low=0)
        if eta is not None and not adaptive:
            raise ValueError(f'`eta={eta}` is an option of ASAM and has no effect with '
                             'adaptive=False: remove it, or set adaptive=True.')
        set_group_keys(self.param_groups, self.rho)
        self.adaptive = check_bool('adaptive', adaptive)
        self.sync_perturbation = check_bool('sync_perturbation', sync_perturbation)
        self.sam_schedule = SAMStepSchedule(interval, begin, end, by_epoch, probability)
        self.optimizer_updates = 0  # every optimizer update so far, SAM and plain
        self._forward: Optional[RecordedForward] = None
        self._model_checked = False

    def initialize_count_status(self, model: nn.Module, init_counts: int,
                                max_counts: int) -> None:
        """MMEngine's, after refusing a sharded model (:mod:`.sharding`) before training."""
        refuse_sharded(model, type(self).__name__)
        super().initialize_count_status(model, init_counts, max_counts)

    @property
    def sam_active(self) -> bool:
        """Whether the current optimizer update is a SAM one (all its micro-batches alike)."""
        phase = None if self.sam_schedule.whole_run else self.sam_phase()
        return self.sam_schedule.is_sam(self.optimizer_updates, self._inner_count, phase)

    def sam_phase(self) -> Tuple[int, Optional[int]]:
        """The iterations ``[first, stop)`` with SAM steps (``stop`` None: to the end), from the
        run's ``max_iters`` and ``max_epochs``. ``AUSAMHook`` gives them to the sampler."""
        return self.sam_schedule.phase(self._max_counts, self.message_hub.get_info('max_epochs'),
                                       self._accumulative_counts, type(self).__name__)

    def options(self) -> Dict[str, Any]:
        """The configured options, saved with the state to compare on resume."""
        return dict(rho=self.rho, adaptive=self.adaptive, eta=self.eta,
                    sync_perturbation=self.sync_perturbation, **self.sam_schedule.options())

    def state_dict(self) -> dict:
        return dict(super().state_dict(), optimizer_updates=self.optimizer_updates,
                    sam_options=self.options(), **self.sam_schedule.state_dict())

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = upgrade_optimizer_state(state_dict)
        # absent in checkpoints of MMEngine's wrappers: the next update is a SAM one
        self.optimizer_updates = state_dict.pop('optimizer_updates', 0)
        self.sam_schedule.load_state_dict(state_dict)
        saved = state_dict.pop('sam_options', None) or {}
        configured = group_keys(self.param_groups)
        super().load_state_dict(state_dict)
        keep_group_keys(type(self).__name__, self.param_groups, configured)
        log_option_changes(type(self).__name__, saved, self.options())

    # -- capture ---------------------------------------------------------------------------

    def optim_context(self, model: nn.Module) -> EagerContext:
        """The base wrapper's context (autocast, accumulation), plus: no DDP sync for the ascent
        pass of a SAM update (unless ``sync_perturbation``) and the record of the forward."""
        if not self._model_checked:  # the first step: a sharded model, a compiled train_step
            self._model_checked = True
            refuse_sharded(model, type(self).__name__)
            if compiled_by_runner(model):
                print_log(compile_note(type(self).__name__, self.compiled_second_pass),
                          logger='current', level=logging.INFO)
        return EagerContext(self._capture_context(model))

    @contextmanager
    def _capture_context(self, model: nn.Module):
        """What :meth:`optim_context` opens (subclasses extend this one)."""
        forward = RecordedForward(model)
        with ExitStack() as stack:
            stack.enter_context(super().optim_context(model))
            if hasattr(model, 'no_sync') and self.sam_active and not self.sync_perturbation:
                stack.enter_context(model.no_sync())
            stack.enter_context(recording(forward))
            yield
        self._forward = forward

    #: what ``compile=True`` compiles of the second pass, for the log
    compiled_second_pass = ('the forward at w + e (with BatchNorm layers a second graph: their '
                            'running statistics are frozen)')

    # -- the step --------------------------------------------------------------------------

    def update_params(self, loss: Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """SAM update (or, between SAM updates, the base optimizer's)."""
        sam_pass = self._ascent_step(loss)
        if sam_pass is not None:
            try:
                second = self._forward_at_perturbed(sam_pass.forward)
            except BaseException:
                self._abandon(sam_pass)
                raise
            self._descent_step(sam_pass, second)
        self._finish_update(sam_pass is not None, step_kwargs, zero_kwargs)

    def _ascent_step(self, loss: Tensor) -> Optional[_SAMPass]:
        """A SAM update: the ascent backward, ``w <- w + e``, the second-pass context opened.
        Otherwise the base optimizer's backward, under the same non-finite rule (None)."""
        forward, self._forward = checked(self._forward, type(self).__name__), None
        loss = self._pass_loss(forward, forward.output, loss)
        if not self.sam_active:
            self.backward(self.scale_loss(loss))
            at_w = float(loss.detach())
            check_finite(type(self).__name__, 0.0, at_w, at_w, False,
                         self.message_hub.get_info('iter'), self._radii())
            return None
        params = [p for g in self.optimizer.param_groups for p in g['params']]
        accumulated = stash_grads(params)  # the update gradient of earlier micro-batches
        self.backward(self.scale_loss(loss))  # ascent pass: g
        self._inner_count -= 1  # one update_params counts once (OptimWrapper's contract)
        saved, perturbed, norm = ascend_(self._perturbed_params(), self._radii(), self.adaptive,
                                         self.eta)
        unstash_grads(params, accumulated)
        return _SAMPass(forward, loss, saved, perturbed, norm,
                        self._second_pass_context(forward.model))

    def _forward_at_perturbed(self, forward: RecordedForward) -> Any:
        """The model's forward at ``w + e``: what Dynamo compiles of the step. Returns what
        :meth:`_second_losses` takes."""
        return forward.rerun()

    def _descent_step(self, sam_pass: _SAMPass, second: Any) -> None:
        """Add the SAM gradient of this batch to the parameters' gradients, restore ``w``."""
        with sam_pass.context:
            descent_loss, loss_at_e = self._second_losses(sam_pass.forward, second)
        self.backward(self.scale_loss(descent_loss))  # descent pass: g_sam
        restore_(sam_pass.perturbed, sam_pass.saved)
        self._log_step(sam_pass.norm, sam_pass.loss, loss_at_e)
        self._after_second_pass(sam_pass.forward, second)

    def _abandon(self, sam_pass: _SAMPass) -> None:
        """The forward at ``w + e`` raised: close its context, put ``w`` back."""
        sam_pass.context.close()
        restore_(sam_pass.perturbed, sam_pass.saved)

    def _finish_update(self, active: bool, step_kwargs: Optional[Dict],
                       zero_kwargs: Optional[Dict]) -> None:
        self.message_hub.update_scalar('train/sam/active', float(active))
        if self.should_update():
            self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))
            self.optimizer_updates += 1

    def _second_losses(self, forward: RecordedForward, second: Any) -> Tuple[Tensor, Tensor]:
        """From :meth:`_forward_at_perturbed`'s result: (the loss to backward, the batch's loss
        at ``w + e``). Runs in the second pass's context."""
        loss_at_e = self._pass_loss(forward, second)
        return loss_at_e, loss_at_e

    def _pass_loss(self, forward: RecordedForward, losses: Any,
                   loss: Optional[Tensor] = None) -> Tensor:
        """The scalar loss of one pass: ``loss`` (what ``train_step`` parsed) when given, else
        MMEngine's ``parse_losses``. Hook for subclasses (AUSAM's importance weights)."""
        return forward.parse_losses(losses)[0] if loss is None else loss

    def _perturbed_params(self) -> List[List[Tensor]]:
        """The parameters SAM may perturb, per param group (none of ``sam_perturb=False``)."""
        return [list(g['params']) if g.get('sam_perturb', True) else []
                for g in self.optimizer.param_groups]

    def _radii(self) -> List[float]:
        """The perturbation radius of each param group."""
        return [g['rho'] for g in self.optimizer.param_groups]

    def _second_pass_context(self, model: nn.Module) -> ExitStack:
        """Autocast and accumulation sync of the base wrapper, BatchNorm statistics frozen."""
        stack = ExitStack()
        stack.enter_context(super().optim_context(model))
        stack.enter_context(frozen_running_stats(model))
        return stack

    def _after_second_pass(self, forward: RecordedForward, second: Any) -> None:
        """Hook for subclasses: both passes' outputs are known (AUSAM reads its DLPs here)."""

    def _log_step(self, norm: Tensor, loss: Tensor, loss_at_e: Tensor) -> None:
        """Logs ``||g||`` and the sharpness under the non-finite rule (:mod:`.non_finite`)."""
        scaler = getattr(self, 'loss_scaler', None)
        scale = scaler.get_scale() if scaler is not None and scaler.is_enabled() else None
        log_sam_step(type(self).__name__, self.message_hub, scale, norm, loss, loss_at_e,
                     self._radii())


run_eagerly(SAMMixin)


@OPTIM_WRAPPERS.register_module()
class SAMOptimWrapper(SAMMixin, OptimWrapper):
    """Sharpness-Aware Minimization around any base optimizer (fp32).

    Two forward+backward passes per step on the same batch; the base optimizer (its momentum,
    weight decay, ``paramwise_cfg``, LR schedule) steps with the gradient taken at ``w + e``.
    ``clip_grad`` clips that gradient. See :class:`SAMMixin` for the arguments.

    Examples:
        >>> optim_wrapper = dict(
        >>>     type='SAMOptimWrapper',
        >>>     optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-3),
        >>>     rho=0.05, adaptive=False, clip_grad=None)
    """


@OPTIM_WRAPPERS.register_module()
class AmpSAMOptimWrapper(SAMMixin, DeviceAmpOptimWrapper):
    """:class:`SAMOptimWrapper` with automatic mixed precision, on CUDA or the CPU.

    Both passes run under autocast; fp16 uses one ``GradScaler`` across them: an overflowing
    ascent pass skips the perturbation, an overflowing descent pass skips the step (``w`` is
    restored first in every case). ``--amp`` of the train command switches ``SAMOptimWrapper`` to
    this class.

    Examples:
        >>> optim_wrapper = dict(
        >>>     type='AmpSAMOptimWrapper', dtype='bfloat16',   # or 'float16'
        >>>     loss_scale='dynamic',
        >>>     optimizer=dict(type='SGD', lr=0.1, momentum=0.9), rho=0.05)
    """
