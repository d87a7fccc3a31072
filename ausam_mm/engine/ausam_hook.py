"""``AUSAMHook``: the one link between ``AUSAMBatchSampler`` and ``AUSAMOptimWrapper``.

The sampler keeps the run's :class:`~ausam_mm.core.history.ScoreHistory` (it reads the scores
to draw each subset); the wrapper posts every step's DLPs into it. Nothing else connects them:
the hook, listed in the config, hands the sampler's history to the wrapper when training
starts, tells the sampler the epoch before each epoch of an epoch-based loop (an
iteration-based loop's sampler counts its own passes through the data), and saves and
restores the history and the sampler's start with the run's checkpoints. ``--ausam`` and
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

from ..core.options import config_value_used, option_changes
from .ausam_optim_wrapper import AUSAMMixin
from .ausam_sampler import AUSAMBatchSampler
from .config_help import missing_sampler, not_ausam_wrapper

#: the checkpoint key of the hook's state (ausam_mm 0.1 kept the history in
#: ``checkpoint['optimizer']['ausam_history']``; that form is still read)
CHECKPOINT_KEY = 'ausam'
LEGACY_KEY = 'ausam_history'


def saved_state(checkpoint: dict) -> Optional[dict]:
    """The AUSAM state of a checkpoint, ``dict(history=..., start_iter=...)``: its
    ``checkpoint['ausam']``, or the 0.1 form (AUSAM started at iteration 0); None for a
    checkpoint of a SAM or base-optimizer run."""
    if CHECKPOINT_KEY in checkpoint:
        return checkpoint[CHECKPOINT_KEY]
    legacy = (checkpoint.get('optimizer') or {}).get(LEGACY_KEY)
    return None if legacy is None else dict(history=legacy, start_iter=0)


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
    - ``before_save_checkpoint`` / ``after_load_checkpoint``: ``checkpoint['ausam']`` holds the
      history, the iteration at which AUSAM started, the sampler's options (a resumed run
      uses the config's and logs each one that differs, as the wrappers do) and the subsets
      the DataLoader's workers drew ahead of the checkpoint's iteration (replayed on resume).
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

    def _restore(self, runner, sampler: AUSAMBatchSampler) -> None:
        state, self._loaded = self._loaded, None
        if state is None:
            sampler.start_iter = runner.iter
            runner.logger.warning(
                f'AUSAMHook: the resumed checkpoint holds no AUSAM scores (it was written by a '
                f'SAM or base-optimizer run): AUSAM starts at epoch {runner.epoch} (iteration '
                f'{runner.iter}) with {sampler.warmup_epochs} warm-up epoch(s) of full batches '
                'and the f_max ramp counted from there.')
            return
        saved_beta = state['history'].get('beta')
        if saved_beta != sampler.history.beta:
            runner.logger.warning(
                f'AUSAMHook: the checkpoint\'s score history has beta={saved_beta}, the config '
                f'beta={sampler.history.beta}; the history continues with the checkpoint\'s '
                f'beta={saved_beta}.')
        sampler.history.load_state_dict(state['history'])
        sampler.start_iter = int(state.get('start_iter', 0))
        # the resume rule (docs/reliability.md): the sampler's options come from the config;
        # each one that differs from the checkpoint's is said (older checkpoints hold none)
        for name, old, new in option_changes(state.get('sampler_options') or {},
                                             sampler.options()):
            runner.logger.warning(
                f'AUSAMBatchSampler resumed: {config_value_used(name, old, new)}.')
        self._replay_draws_ahead(runner, sampler, state.get('draws_ahead'))

    @staticmethod
    def _replay_draws_ahead(runner, sampler: AUSAMBatchSampler, ahead: Optional[dict]
                            ) -> None:
        """The subsets the workers had drawn ahead of the resumed iteration, with the scores
        of that moment, are trained again as drawn: the resumed run ends where the straight
        run ends (docs/reliability.md, "Resume: where it is bit-exact")."""
        if not ahead or not ahead['draws']:
            return
        if ahead['world_size'] != runner.world_size:
            runner.logger.warning(
                f'AUSAMHook: the checkpoint was written by {ahead["world_size"]} process(es), '
                f'this run has {runner.world_size}: the {len(ahead["draws"])} subset(s) drawn '
                'ahead of the resumed iteration are drawn again from the resumed scores.')
            return
        if runner.rank == 0:
            sampler.replay(ahead['draws'])
        runner.logger.info(
            f'AUSAMHook: {len(ahead["draws"])} subset(s) the DataLoader had drawn ahead of '
            f'iteration {runner.iter} are replayed from the checkpoint.')
        if runner.world_size > 1:
            runner.logger.warning(
                f'AUSAMHook: only rank 0 saves checkpoints, so only its subsets drawn ahead of '
                f'iteration {runner.iter} are replayed; the other {runner.world_size - 1} '
                'rank(s) draw theirs again from the resumed scores, and this resume is not '
                'bit-exact. train_dataloader.num_workers=0 draws nothing ahead (exact).')

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
        old = self.sampler.history
        new = sampler.history
        if old.size == new.size and new.fingerprint in (None, old.fingerprint):
            sampler.history = old
            runner.logger.info('AUSAMHook: the train dataloader was rebuilt; its new '
                               'AUSAMBatchSampler continues the run\'s score history.')
        else:
            runner.optim_wrapper.use_history(new)
            runner.logger.warning(
                f'AUSAMHook: the train dataloader was rebuilt on another training set '
                f'({new.size} samples, was {old.size}); AUSAM\'s scores start afresh.')
        sampler.start_iter = self.sampler.start_iter
        sampler.link()
        self.sampler = sampler

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.sampler is not None:
            # the subsets the DataLoader's workers drew ahead of the iteration a resume starts
            # at (rank 0's: only rank 0 saves)
            ahead = self.sampler.draws_ahead(checkpoint.get('meta', {}).get('iter', runner.iter))
            checkpoint[CHECKPOINT_KEY] = dict(
                history=self.sampler.history.state_dict(), start_iter=self.sampler.start_iter,
                sampler_options=self.sampler.options(),
                draws_ahead=dict(draws=ahead, world_size=runner.world_size))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the AUSAM state for ``before_train`` (used only when the run resumes)."""
        self._loaded = saved_state(checkpoint)
        (checkpoint.get('optimizer') or {}).pop(LEGACY_KEY, None)  # not the optimizer's
