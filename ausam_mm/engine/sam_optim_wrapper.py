"""``SAMOptimWrapper``: SAM inside MMEngine's one-pass ``train_step``, no model or loop change.

MMEngine's ``BaseModel.train_step`` (and ``MMDistributedDataParallel.train_step``) runs the
forward inside ``optim_wrapper.optim_context(model)`` and then calls
``optim_wrapper.update_params(loss)``. The wrapper records that forward's inputs while the
context is open and, in ``update_params``, does the rest of the SAM step (docs/ausam.md, "The
SAM step"): ascent backward, ``w + e``, a second forward + backward on the same inputs
(BatchNorm running statistics frozen), ``w`` restored, then the base optimizer's clipped step.

Under ``torch.compile`` (MMEngine's ``compile=True`` compiles ``train_step``) the wrapper's own
code runs eagerly (``torch.compiler.disable``, see ``engine/eager.py``) and Dynamo compiles the
model: the forward of ``train_step`` and the forward at ``w + e`` (:meth:`SAMMixin.
_forward_at_perturbed`), with their backward.
"""
import logging
import math
from collections.abc import Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from mmengine.dist import sync_random_seed
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import Tensor, nn

from ..core.options import check_bool, check_int, check_real, config_value_used, \
    option_changes
from ..core.sam import frozen_running_stats, grad_norm, perturb_, restore_, stash_grads, \
    unstash_grads
from ..core.schedule import SAMSchedule
from .amp import DeviceAmpOptimWrapper
from .eager import EagerContext, compiled_by_runner
from .upgrade import upgrade_optimizer_state

#: one radius for SAM and AUSAM, so that switching between them keeps it (docs/ausam.md,
#: "Defaults of the reference recipe" says why 0.05)
DEFAULT_RHO = 0.05

#: the param-group keys of the SAM step: the group's radius and whether it is perturbed
SAM_GROUP_KEYS = ('rho', 'sam_perturb')


class _Forward:
    """The one model call seen inside ``optim_context``: the module, its inputs, its output.
    Its two recording hooks run eagerly under ``torch.compile``: the model's forward between
    them is what Dynamo compiles."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.calls: List[Tuple[tuple, dict]] = []
        self.output: Any = None

    @torch.compiler.disable
    def record_inputs(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self.calls.append((args, kwargs))

    @torch.compiler.disable
    def record_output(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        self.output = output

    def rerun(self) -> Any:
        args, kwargs = self.calls[0]
        return self.model(*args, **kwargs)

    @property
    def parse_losses(self):
        module = self.model.module if is_model_wrapper(self.model) else self.model
        return module.parse_losses


@dataclass
class _SAMPass:
    """A SAM update between its ascent and its descent: the recorded forward, the loss at ``w``,
    the moved parameters with their saved values, ``||g||`` and the open second-pass context."""

    forward: _Forward
    loss: Tensor
    saved: List[Tensor]
    perturbed: List[Tensor]
    norm: Tensor
    context: ExitStack


class SAMMixin:
    """The SAM step, mixed into an MMEngine optimizer wrapper (fp32 or AMP).

    Args:
        rho: SAM radius (default 0.05 for SAM and AUSAM alike). Stored in every param group
            as ``'rho'`` (``setdefault``), so a param group may carry its own and MMEngine's
            param schedulers can schedule it
            (``dict(type='CosineAnnealingParamScheduler', param_name='rho', ...)``).
        adaptive: ASAM's elementwise scaling ``T = |w| + eta`` instead of plain SAM.
        eta: ASAM's ``eta`` (default 0.01); refused with ``adaptive=False``, where it would have
            no effect.
        sync_perturbation: under DDP, all-reduce the first-pass gradient so that every rank
            perturbs by the same ``e`` (costs one extra all-reduce). Default: each rank perturbs
            by its own gradient (no communication), the second pass is synchronised.
        interval: SAM on one optimizer update in ``interval`` (the first of each ``interval``),
            the base optimizer's single pass on the others (Composer's ``interval``): on
            average ``(interval + 1) / interval`` passes per step. 1 (default): SAM every step.
            Which update of the ``interval`` comes next is saved in ``state_dict``
            (``'optimizer_updates'``), so resume continues the pattern exactly.
        begin, end: the phase of the training with SAM steps, the base optimizer's single
            pass outside it (late-phase SAM: ``begin=0.75``). A float is a fraction of the
            training, an int an epoch (``by_epoch=True``, default) or an iteration
            (``by_epoch=False``), as MMEngine's param schedulers count; ``end`` (excluded)
            defaults to the end of the training. Default: SAM from the start.
        by_epoch: whether int ``begin``/``end`` are epochs or iterations.
        probability: each update of the phase is a SAM one with this probability (randomized
            SAM), drawn from (the wrapper's seed, the update count) alone: DDP ranks agree
            without communicating, a resumed run repeats the draws (the seed is saved in
            ``state_dict``). Default 1: every update.

    Note:
        Contract with the model: inside ``optim_context`` the model is called exactly once
        (``BaseModel.train_step`` does), and calling it again with the same inputs gives the
        loss dict at the current weights.

    Note:
        A param group with ``sam_perturb=False`` is updated by the optimizer but not perturbed:
        its parameters stay at ``w`` in the second pass and are left out of ``||g||``. Set it
        per parameter name with MMEngine's ``paramwise_cfg``, e.g.
        ``paramwise_cfg=dict(custom_keys={'.scaling_impl.value': dict(sam_perturb=False)})``
        (the quantizers' scales of a ``BrevitasQATModel``, as ``configs/qat/`` do). Default:
        True (perturbed).

    Note:
        ``accumulative_counts > 1`` is supported: each micro-batch does its own two passes and
        the second-pass gradients accumulate; the perturbation of a micro-batch is computed
        from that micro-batch's gradient alone.

    Note:
        ``compile=True`` (MMEngine compiles ``train_step``): ``optim_context`` and the steps of
        ``update_params`` run eagerly (``torch.compiler.disable``); Dynamo compiles the forward
        of ``train_step`` and :meth:`_forward_at_perturbed`, the one method of the step that is
        traced. A subclass keeps Python bookkeeping out of it (the eager steps call the other
        hooks: ``_pass_loss``, ``_second_losses``, ``_after_second_pass``).
    """

    def __init__(self, *args, rho: float = DEFAULT_RHO, adaptive: bool = False,
                 eta: Optional[float] = None, sync_perturbation: bool = False,
                 interval: int = 1, begin: Union[int, float] = 0,
                 end: Union[int, float, None] = None, by_epoch: Optional[bool] = None,
                 probability: float = 1.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        rho = check_real('rho', rho, low=0)
        self.rho = rho  # the configured value; the param groups' 'rho' is what the step uses
        if eta is not None:
            eta = check_real('eta', eta, low=0)
            if not adaptive:
                raise ValueError(f'`eta={eta}` is an option of ASAM and has no effect with '
                                 'adaptive=False: remove it, or set adaptive=True.')
        eta = 0.01 if eta is None else eta
        # the wrapper's param_groups: with several groups MMEngine appends its base settings,
        # which param schedulers walk too (a `param_name='rho'` scheduler needs 'rho' there)
        for i, group in enumerate(self.param_groups):
            group.setdefault('rho', rho)
            check_real(f'rho of param group {i}', group['rho'], low=0)
            check_bool(f'sam_perturb of param group {i} (paramwise_cfg.custom_keys)',
                       group.get('sam_perturb', True))
        self.adaptive = check_bool('adaptive', adaptive)
        self.eta = check_real('eta', eta, low=0)
        self.sync_perturbation = check_bool('sync_perturbation', sync_perturbation)
        self.interval = check_int('interval', interval, low=1)
        self.schedule = SAMSchedule(begin, end, by_epoch, probability)
        # the seed of the random schedule's draws (saved in state_dict); drawn only when there
        # are draws to make, so that other configs leave numpy's global generator untouched
        self.schedule_seed: Optional[int] = \
            sync_random_seed() if self.schedule.probability < 1 else None
        self.optimizer_updates = 0  # every optimizer update so far, SAM and plain
        self._forward: Optional[_Forward] = None
        self._logged_phase: Optional[tuple] = None
        self._logged_compile = False

    @property
    def sam_active(self) -> bool:
        """Whether the current optimizer update is a SAM one (all its micro-batches alike):
        one update in ``interval``, inside the phase, drawn with ``probability``."""
        if self.optimizer_updates % self.interval:
            return False
        if not self.schedule.whole_run:
            first, stop = self.sam_phase()
            if self._inner_count < first or (stop is not None and self._inner_count >= stop):
                return False
        return self.schedule.draw(self.schedule_seed, self.optimizer_updates)

    def sam_phase(self) -> Tuple[int, Optional[int]]:
        """The iterations ``[first, stop)`` with SAM steps (``stop`` None: to the end), from
        ``begin``/``end``, the run's ``max_iters`` (``initialize_count_status``) and
        ``max_epochs`` (MMEngine's ``RuntimeInfoHook``). ``AUSAMHook`` gives them to the
        sampler, which draws full batches outside the phase."""
        max_epochs = self.message_hub.get_info('max_epochs')
        phase = self.schedule.phase(self._max_counts, max_epochs, self._accumulative_counts)
        if not self.schedule.whole_run and phase + (self._max_counts,) != self._logged_phase:
            self._logged_phase = phase + (self._max_counts,)
            first, stop = phase
            print_log(f'{type(self).__name__}: SAM steps on iterations {first} to '
                      f'{self._max_counts if stop is None else stop} (excluded) of '
                      f'{self._max_counts} ({self.schedule}); the base optimizer\'s step on '
                      'the others.', logger='current', level=logging.INFO)
        return phase

    def options(self) -> Dict[str, Any]:
        """The configured options, saved with the state to compare on resume."""
        return dict(rho=self.rho, adaptive=self.adaptive, eta=self.eta,
                    sync_perturbation=self.sync_perturbation, interval=self.interval,
                    **self.schedule.options())

    def state_dict(self) -> dict:
        state = super().state_dict()
        state['optimizer_updates'] = self.optimizer_updates
        state['sam_options'] = self.options()
        if self.schedule_seed is not None:
            state['sam_schedule_seed'] = self.schedule_seed
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = upgrade_optimizer_state(state_dict)
        # absent in checkpoints of MMEngine's wrappers: the next update is a SAM one
        self.optimizer_updates = state_dict.pop('optimizer_updates', 0)
        # the draws continue with the checkpoint's seed (a run without draws saved none)
        self.schedule_seed = state_dict.pop('sam_schedule_seed', self.schedule_seed)
        saved = state_dict.pop('sam_options', None) or {}
        configured = [{k: g[k] for k in SAM_GROUP_KEYS if k in g} for g in self.param_groups]
        super().load_state_dict(state_dict)
        self._keep_group_keys(configured)
        self._log_option_changes(saved)

    def _keep_group_keys(self, configured: List[Dict[str, Any]]) -> None:
        """The checkpoint's param groups replace the config's (torch's ``load_state_dict``):
        a SAM key the checkpoint lacks (a base optimizer's run, ausam_mm 0.1) keeps the
        config's value; a ``sam_perturb`` that differs continues from the checkpoint, as
        ``lr`` does, and is logged."""
        for i, (group, config) in enumerate(zip(self.param_groups, configured)):
            for key, value in config.items():
                old = group.setdefault(key, value)
                if key == 'sam_perturb' and old != value:
                    print_log(f'{type(self).__name__} resumed: param group {i} continues with '
                              f'the checkpoint\'s sam_perturb={old}; the config\'s '
                              f'sam_perturb={value} is not used.', logger='current',
                              level=logging.WARNING)

    def _log_option_changes(self, saved: Dict[str, Any]) -> None:
        """The resume rule (docs/reliability.md): state comes from the checkpoint - ``rho`` lives
        in the optimizer's param groups and resumes with them, as ``lr`` does -, every other
        option from the config. Each value that differs is logged, with the one used."""
        for name, old, new in option_changes(saved, self.options()):
            if name == 'rho':
                note = (f'rho={old} continues from the checkpoint\'s param groups (optimizer '
                        f'state, like lr); the config\'s rho={new} is not used. To change rho '
                        "in a run, schedule it: dict(type=..., param_name='rho')")
            else:
                note = config_value_used(name, old, new)
            print_log(f'{type(self).__name__} resumed: {note}.', logger='current',
                      level=logging.WARNING)

    # -- capture ---------------------------------------------------------------------------

    @torch.compiler.disable
    def optim_context(self, model: nn.Module) -> EagerContext:
        """The base wrapper's context (autocast, accumulation), plus: no DDP sync for the ascent
        pass of a SAM update (unless ``sync_perturbation``) and the record of the forward call.
        Entered and exited eagerly under ``torch.compile`` (:class:`EagerContext`)."""
        if not self._logged_compile and compiled_by_runner(model):
            self._logged_compile = True
            print_log(self._compile_note(), logger='current', level=logging.INFO)
        return EagerContext(self._capture_context(model))

    @contextmanager
    def _capture_context(self, model: nn.Module):
        """What :meth:`optim_context` opens (subclasses extend this one)."""
        forward = _Forward(model)
        with ExitStack() as stack:
            stack.enter_context(super().optim_context(model))
            if hasattr(model, 'no_sync') and self.sam_active and not self.sync_perturbation:
                stack.enter_context(model.no_sync())
            handles = [model.register_forward_pre_hook(forward.record_inputs, with_kwargs=True),
                       model.register_forward_hook(forward.record_output, with_kwargs=True)]
            stack.callback(lambda: [h.remove() for h in handles])
            yield
        self._forward = forward

    def _compile_note(self) -> str:
        """The log line that says what ``compile=True`` compiles of a SAM step."""
        return (f'{type(self).__name__}: model.train_step is compiled (compile=True). Dynamo '
                "compiles the model's forward at w (in train_step, with the data preprocessor) "
                f'and {self._compiled_second_pass()}, with their backward; the SAM step around '
                'them runs eagerly (torch.compiler.disable): the backward calls, the '
                'perturbation and restore, the BatchNorm freeze, the optimizer step, the logging.')

    def _compiled_second_pass(self) -> str:
        return ('the forward at w + e (with BatchNorm layers a second graph: their running '
                'statistics are frozen)')

    def _take_forward(self) -> _Forward:
        forward, self._forward = self._forward, None
        name = type(self).__name__
        if forward is None or not forward.calls:
            raise RuntimeError(
                f'{name}.update_params() found no model forward to repeat: SAM reruns the '
                'forward that ran inside `optim_wrapper.optim_context(model)`. Use a model '
                "whose train_step is MMEngine's BaseModel.train_step, or call the model inside "
                'that context before update_params().')
        if len(forward.calls) > 1:
            raise RuntimeError(
                f'{name} saw the model called {len(forward.calls)} times inside '
                'optim_context; SAM can only repeat a train_step with a single forward.')
        if not isinstance(forward.output, Mapping):
            raise TypeError(
                f"{name} repeats the model's forward to get the loss at w + e, so the forward "
                'that runs inside optim_context must return the dict of losses (as '
                "BaseModel.train_step's `self._run_forward(data, mode='loss')` does); it "
                f'returned {type(forward.output).__name__}. A train_step that computes the '
                "loss outside forward cannot be repeated: compute it in forward(mode='loss') "
                "and keep MMEngine's BaseModel.train_step.")
        return forward

    # -- the step --------------------------------------------------------------------------

    @torch.compiler.disable(recursive=False)
    def update_params(self, loss: Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """SAM update (or, between SAM updates, the base optimizer's). Under ``torch.compile``
        this frame is skipped and the steps it calls run eagerly, except the forward at
        ``w + e`` (:meth:`_forward_at_perturbed`), which Dynamo compiles."""
        sam_pass = self._ascent_step(loss)
        if sam_pass is not None:
            try:
                second = self._forward_at_perturbed(sam_pass.forward)
            except BaseException:
                self._abandon(sam_pass)
                raise
            self._descent_step(sam_pass, second)
        self._finish_update(sam_pass is not None, step_kwargs, zero_kwargs)

    @torch.compiler.disable
    def _ascent_step(self, loss: Tensor) -> Optional[_SAMPass]:
        """A SAM update: the ascent backward, ``w <- w + e``, the second-pass context opened.
        Otherwise the base optimizer's backward, under the same non-finite rule (None)."""
        forward = self._take_forward()
        loss = self._pass_loss(forward, forward.output, loss)
        if not self.sam_active:
            self.backward(self.scale_loss(loss))
            at_w = float(loss.detach())
            self._check_finite(0.0, at_w, at_w, scaled=False)
            return None
        params = [p for g in self.optimizer.param_groups for p in g['params']]
        accumulated = stash_grads(params)  # the update gradient of earlier micro-batches
        self.backward(self.scale_loss(loss))  # ascent pass: g
        self._inner_count -= 1  # one update_params counts once (OptimWrapper's contract)
        saved, perturbed, norm = self._ascend()
        unstash_grads(params, accumulated)
        return _SAMPass(forward, loss, saved, perturbed, norm,
                        self._second_pass_context(forward.model))

    def _forward_at_perturbed(self, forward: _Forward) -> Any:
        """The model's forward at ``w + e``: what Dynamo compiles of the step (keep other Python
        code out of it). Returns what :meth:`_second_losses` takes."""
        return forward.rerun()

    @torch.compiler.disable
    def _descent_step(self, sam_pass: _SAMPass, second: Any) -> None:
        """Add the SAM gradient of this batch to the parameters' gradients, restore ``w``."""
        forward = sam_pass.forward
        with sam_pass.context:
            descent_loss, loss_at_e = self._second_losses(forward, second)
        self.backward(self.scale_loss(descent_loss))  # descent pass: g_sam
        restore_(sam_pass.perturbed, sam_pass.saved)
        self._log_step(sam_pass.norm, sam_pass.loss, loss_at_e)
        self._after_second_pass(forward, second)

    @torch.compiler.disable
    def _abandon(self, sam_pass: _SAMPass) -> None:
        """The forward at ``w + e`` raised: close its context, put ``w`` back."""
        sam_pass.context.close()
        restore_(sam_pass.perturbed, sam_pass.saved)

    @torch.compiler.disable
    def _finish_update(self, active: bool, step_kwargs: Optional[Dict],
                       zero_kwargs: Optional[Dict]) -> None:
        self.message_hub.update_scalar('train/sam/active', float(active))
        if self.should_update():
            self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))
            self.optimizer_updates += 1

    def _second_losses(self, forward: _Forward, second: Any) -> Tuple[Tensor, Tensor]:
        """From :meth:`_forward_at_perturbed`'s result: (the loss to backward, the batch's loss
        at ``w + e``). Runs in the second pass's context."""
        loss_at_e = self._pass_loss(forward, second)
        return loss_at_e, loss_at_e

    def _pass_loss(self, forward: _Forward, losses: Any, loss: Optional[Tensor] = None
                   ) -> Tensor:
        """The scalar loss to differentiate for one pass's loss dict: ``loss`` (what
        ``train_step`` parsed) when given, else MMEngine's ``parse_losses``. Hook for
        subclasses (AUSAM's importance weights)."""
        if loss is None:
            loss, _ = forward.parse_losses(losses)
        return loss

    def _perturbed_params(self) -> List[List[Tensor]]:
        """The parameters SAM may perturb, per param group: none of a ``sam_perturb=False``
        group."""
        return [list(g['params']) if g.get('sam_perturb', True) else []
                for g in self.optimizer.param_groups]

    def _ascend(self) -> Tuple[List[Tensor], List[Tensor], Tensor]:
        """``w <- w + e`` from the ascent gradients; returns (saved w, moved params, ||g||)."""
        groups = [[p for p in params if p.grad is not None]
                  for params in self._perturbed_params()]
        flat = [p for group in groups for p in group]
        norm = grad_norm(flat, self.adaptive, self.eta)
        # fp16: an overflowing ascent pass (inf/nan norm) skips the perturbation; the scaler
        # then judges the descent pass. Scaled gradients give the same e (e is scale-free).
        if not flat or not bool(torch.isfinite(norm)):
            return [], [], norm
        saved = perturb_(groups, self._radii(), norm, self.adaptive, self.eta)
        return saved, flat, norm

    def _radii(self) -> List[float]:
        """The perturbation radius of each param group."""
        return [g['rho'] for g in self.optimizer.param_groups]

    def _second_pass_context(self, model: nn.Module):
        """Autocast and accumulation sync of the base wrapper, BatchNorm statistics frozen."""
        stack = ExitStack()
        stack.enter_context(super().optim_context(model))
        stack.enter_context(frozen_running_stats(model))
        return stack

    def _after_second_pass(self, forward: _Forward, second: Any) -> None:
        """Hook for subclasses: both passes' outputs are known (AUSAM reads its DLPs here)."""

    def _log_step(self, norm: Tensor, loss: Tensor, loss_at_e: Tensor) -> None:
        """Logs ``||g||`` and the sharpness; applies the non-finite rule (one device sync)."""
        scaler = getattr(self, 'loss_scaler', None)
        scaled = scaler is not None and scaler.is_enabled()
        scale = scaler.get_scale() if scaled else 1.0
        norm_value, at_w, at_e = torch.stack(
            [norm.detach().float().cpu() / scale, loss.detach().float().cpu(),
             loss_at_e.detach().float().cpu()]).tolist()
        self._check_finite(norm_value, at_w, at_e, scaled)
        self.message_hub.update_scalar('train/sam/grad_norm', norm_value)
        self.message_hub.update_scalar('train/sam/sharpness', at_e - at_w)

    def _check_finite(self, norm: float, at_w: float, at_e: float, scaled: bool) -> None:
        """The non-finite rule of SAM and AUSAM (docs/ausam.md): a non-finite loss at ``w`` or
        at ``w + e``, or, without a loss scaler, a non-finite ascent gradient norm raises
        before the optimizer steps (``w`` is already restored). Under AMP's loss scaler a
        gradient overflow is the scaler's: it skips that step and lowers the scale."""
        if not math.isfinite(at_w):
            what = f'the loss is {at_w}'
        elif not math.isfinite(at_e):
            what = f'the loss at w + e is {at_e} (at w: {at_w:.6g})'
        elif not scaled and not math.isfinite(norm):
            what = f'the gradient norm ||g|| is {norm} (loss {at_w:.6g})'
        else:
            return
        it = self.message_hub.get_info('iter')  # MMEngine's RuntimeInfoHook keeps it
        where = f'iteration {it + 1} (as numbered in the log)' if isinstance(it, int) else \
            'this step'
        rhos = sorted({g['rho'] for g in self.optimizer.param_groups})
        raise FloatingPointError(
            f'{type(self).__name__}: {what} at {where}; '
            'the step was not taken and the weights are those before it. Look for NaN or inf '
            f'in the inputs or labels, a learning rate or rho (now {rhos}) too large, or an fp16 '
            "overflow (try --amp with dtype='bfloat16').")


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
    restored first in every case). ``tools/train.py --amp`` switches ``SAMOptimWrapper`` to
    this class.

    Examples:
        >>> optim_wrapper = dict(
        >>>     type='AmpSAMOptimWrapper', dtype='bfloat16',   # or 'float16'
        >>>     loss_scale='dynamic',
        >>>     optimizer=dict(type='SGD', lr=0.1, momentum=0.9), rho=0.05)
    """
