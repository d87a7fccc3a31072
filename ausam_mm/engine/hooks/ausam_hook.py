"""``AUSAMHook``: the one link between ``AUSAMBatchSampler`` and ``AUSAMOptimWrapper``.

The sampler keeps the run's :class:`~ausam_mm.core.history.ScoreHistory` (it reads the scores
to draw each subset); the wrapper posts every step's DLPs into it. Nothing else connects them:
the hook, listed in the config, hands the sampler's history to the wrapper when training
starts, tells the sampler the epoch before each epoch of an epoch-based loop (an
iteration-based loop's sampler counts its own passes through the data), and saves and
restores the sampler's state (:meth:`AUSAMBatchSampler.state_dict`) with the run's
checkpoints, as MMEngine's ``EMAHook`` does with its model. ``--ausam`` and
:func:`~ausam_mm.engine.convert.to_ausam` add it.

Examples:
    >>> custom_hooks = [dict(type='AUSAMHook')]
    >>> optim_wrapper = dict(type='AUSAMOptimWrapper', optimizer=dict(...), rho=0.1)
    >>> train_dataloader = dict(
    >>>     batch_sampler=dict(type='AUSAMBatchSampler', ratio=0.5),
    >>>     dataset=dict(type='IndexedDataset', dataset=dict(...)))
"""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import IterBasedTrainLoop

from ..optim_wrappers.ausam import AUSAMMixin
from ..samplers.ausam_sampler import AUSAMBatchSampler
from ..config_help import missing_sampler, not_ausam_wrapper
from ..upgrade import AUSAM_KEY, ausam_state

#: the checkpoint key of the sampler's state (:meth:`AUSAMBatchSampler.state_dict`)
CHECKPOINT_KEY = AUSAM_KEY


@HOOKS.register_module()
class AUSAMHook(Hook):
    """Links the AUSAM batch sampler and optimizer wrapper of a run; saves their state.

    - ``before_train``: checks the pairing (an ``AUSAMBatchSampler`` in ``train_dataloader``,
      an AUSAM optimizer wrapper), hands the sampler's score history to the wrapper, and
      restores what a resumed checkpoint holds. A run resumed from a checkpoint without scores
      (a SAM or base-optimizer run) warms up for ``warmup_epochs`` from the resumed epoch.
    - ``before_train_epoch``: ``sampler.set_epoch(runner.epoch)`` (epoch-based loops), so
      warm-up and the ``f_max`` ramp follow the runner with or without
      ``DistSamplerSeedHook``.
    - ``before_save_checkpoint`` / ``after_load_checkpoint``: ``checkpoint['ausam']`` is the
      sampler's :meth:`~AUSAMBatchSampler.state_dict` (the history, the iteration at which
      AUSAM started, the options, the subsets drawn ahead), given back to its
      :meth:`~AUSAMBatchSampler.load_state_dict` when the run resumes; the hook assigns no
      attribute of the sampler.
    """

    # after the hooks that rebuild the train dataloader in before_train_epoch (NORMAL)
    priority = 'LOW'

    def __init__(self) -> None:
        self.sampler: Optional[AUSAMBatchSampler] = None
        self._loaded: Optional[dict] = None

    def before_train(self, runner) -> None:
        sampler = getattr(runner.train_dataloader, 'batch_sampler', None)
        if not isinstance(sampler, AUSAMBatchSampler):
            raise RuntimeError(missing_sampler(type(sampler).__name__))
        wrapper = runner.optim_wrapper
        if not isinstance(wrapper, AUSAMMixin):
            raise RuntimeError(not_ausam_wrapper(type(wrapper).__name__))
        wrapper.use_history(sampler.history)
        sampler.link()
        self.sampler = sampler
        if runner.iter > 0:  # resumed
            self._restore(runner, sampler)
        self._loaded = None
        # the wrapper's SAM phase (late-phase AUSAM): full batches before and after it
        sampler.set_sam_phase(*wrapper.sam_phase())

    def _restore(self, runner, sampler: AUSAMBatchSampler) -> None:
        state, self._loaded = self._loaded, None
        if state is not None:
            sampler.load_state_dict(state)
            return
        sampler.start_at(runner.iter)
        runner.logger.warning(
            f'AUSAMHook: the resumed checkpoint holds no AUSAM scores (it was written by a '
            f'SAM or base-optimizer run): AUSAM starts at epoch {runner.epoch} (iteration '
            f'{runner.iter}) with {sampler.warmup_epochs} warm-up epoch(s) of full batches '
            'and the f_max ramp counted from there.')

    def before_train_epoch(self, runner) -> None:
        sampler = getattr(runner.train_dataloader, 'batch_sampler', None)
        if self.sampler is not None and sampler is not self.sampler:
            self._relink(runner, sampler)
        # an iteration-based loop calls this once, possibly after its DataLoader has begun
        # drawing (worker prefetch): there the sampler counts its own passes
        if self.sampler is not None and not isinstance(runner.train_loop, IterBasedTrainLoop):
            self.sampler.set_epoch(runner.epoch)

    def _relink(self, runner, sampler) -> None:
        """A hook rebuilt the train dataloader mid-run (MMPose's ``YOLOXPoseModeSwitchHook``
        does for RTMO and YOLOX-Pose): its new sampler continues the run's scores when it
        draws from the same training set, else the scores start afresh and the log says so."""
        if not isinstance(sampler, AUSAMBatchSampler):
            raise RuntimeError(missing_sampler(type(sampler).__name__))
        if sampler.continue_from(self.sampler):
            runner.logger.info('AUSAMHook: the train dataloader was rebuilt; its new '
                               'AUSAMBatchSampler continues the run\'s score history.')
        else:
            runner.optim_wrapper.use_history(sampler.history)
            runner.logger.warning(
                f'AUSAMHook: the train dataloader was rebuilt on another training set '
                f'({sampler.history.size} samples, was {self.sampler.history.size}); '
                'AUSAM\'s scores start afresh.')
        sampler.link()
        self.sampler = sampler

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.sampler is not None:
            checkpoint[CHECKPOINT_KEY] = self.sampler.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the sampler's state for ``before_train`` (used only when the run resumes)."""
        self._loaded = ausam_state(checkpoint)
