"""``AUSAMBatchSampler``: picks each step's subset before the data is loaded.

The inner sampler's indices are grouped into candidate batches of ``batch_size`` (b); from each,
``floor(ratio * b)`` indices are drawn with AUSAM's probabilities. Only those are loaded and
augmented, so the data pipeline's cost falls with the compute's. Each draw is made when the
DataLoader asks for the batch (scores posted meanwhile are used), from a generator seeded by
(seed, epoch, batch, rank): runs are reproducible and resume exactly.

The sampler owns the run's score history and its resume state (:meth:`state_dict`);
``AUSAMHook`` hands the history to the optimizer wrapper, which posts the scores, tells the
sampler the epoch, and moves the sampler's state into and out of ``checkpoint['ausam']``
(docs/ausam.md, "The link").
"""
import inspect
import logging
import math
from typing import Any, Dict, Iterator, List, Optional, Union

import torch
from mmengine.dataset import InfiniteSampler
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.logging import MessageHub, print_log
from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import Sampler

from ...core.history import ScoreHistory
from ...core.importance import draw_systematic, importance_weights, inclusion_probabilities
from ...core.options import check_bool, check_int, check_real, config_value_used, \
    option_changes
from ...core.selection import SelectionScore, build_score, draw_subset, generator_for, \
    score_options, subset_size
from ..config_help import missing_hook
from ..datasets.indexed_dataset import IndexedDataset, WeightedIndex
from ..upgrade import upgrade_fingerprint

#: subsets the sampler remembers (far more than a DataLoader's workers draw ahead of training)
KEEP_DRAWS = 1024


def sampler_defaults() -> Dict[str, Any]:
    """AUSAM's defaults, read from where they are written: the options of
    :class:`AUSAMBatchSampler` (``ratio``, ``warmup_epochs``, ...) and those of its default
    score (``'ausam'``: ``f_min``, ``f_max``, ``ramp_start``, ``ramp_epochs``), from their
    signatures. ``to_ausam`` and the sampler's table in docs/ausam.md, "Options and
    defaults" (checked by tests/test_docs.py), read them here."""
    params = inspect.signature(AUSAMBatchSampler.__init__).parameters.values()
    defaults = {p.name: p.default for p in params if p.default is not p.empty}
    return dict(defaults, **score_options(defaults['score']))


def _one_way(score: Union[str, dict, SelectionScore], **options: Optional[float]
             ) -> Union[str, dict, SelectionScore]:
    """The score to build: AUSAM's range and ramp (``f_min``, ``f_max``, ``ramp_start``,
    ``ramp_epochs``) are the sampler's own options, given beside ``score`` and nowhere else
    (``score=dict(type=..., ...)`` carries the options of other registered scores)."""
    given = {k: v for k, v in options.items() if v is not None}
    inside = sorted(set(score) & set(options)) if isinstance(score, dict) else []
    if inside:
        raise ValueError(
            f'{inside} are options of AUSAMBatchSampler, not of its `score` dict: write them '
            f"beside it, batch_sampler=dict(type='AUSAMBatchSampler', "
            f"{', '.join(f'{k}={score[k]!r}' for k in inside)}, ...)")
    if given and not isinstance(score, str):
        raise ValueError(f'{sorted(given)} are options of the named scores and score={score!r} '
                         'is already built or configured: name the score, score=\'ausam\'')
    return dict(type=score, **given) if given else score


@DATA_SAMPLERS.register_module()
class AUSAMBatchSampler(Sampler[List[int]]):
    """Batches of the AUSAM-selected subset of each candidate batch.

    Args:
        sampler: the inner sampler (``DefaultSampler``, ``InfiniteSampler`` or any sampler with
            a ``dataset``); MMEngine passes it.
        batch_size: b, the candidate batch; MMEngine passes ``train_dataloader.batch_size``.
        drop_last: drop a last, incomplete candidate batch.
        ratio: fraction of each candidate batch that is loaded and gets the SAM step, (0, 1].
        f_min, f_max, ramp_start, ramp_epochs: the probability range and its ramp
            (docs/ausam.md, "Selection"): options of the score named by ``score`` (of
            ``'ausam'``, with :class:`~ausam_mm.core.AUSAMScore`'s defaults), passed to it;
            written here only (not inside a ``score`` dict), refused with a score that does
            not take them.
        warmup_epochs: epochs of full batches at the start, so that every sample gets a score.
        score: ``'ausam'`` (the paper), ``'uniform'`` (random-subset SAM, the ablation), any
            name registered with :func:`ausam_mm.core.selection.register_score`, a dict with
            ``type`` and the options of such a score, or an instance.
        beta: ``None`` keeps the running mean of each sample's DLPs (default); a float in
            [0, 1) keeps an exponential moving average.
        seed: seed of the draws; default: the inner sampler's ``seed`` (shared by all ranks).
        importance_weights: draw each candidate with a known probability ``pi_i`` (proportional
            to its ``p_i``, capped at 1) and weight its loss by ``k / (b pi_i)`` in both SAM
            passes, so that the subset's loss and gradient are unbiased estimates of the
            candidate batch's (``ausam_mm.core.importance``). The weight travels with the
            index (:class:`WeightedIndex`) into ``metainfo['ausam_weight']``; the AUSAM
            wrapper applies it. Default False: the paper's biased draw, no weights.

    The number of batches per epoch is that of a plain batch sampler, ``ceil(N_rank / b)``, so
    iteration-based schedules are unchanged. ``warmup_epochs`` and the ramp count epochs from
    ``start_iter`` (0, the first iteration of the wrapper's SAM phase - ``begin`` of a
    late-phase AUSAM -, or the iteration where a run resumed from a checkpoint without scores;
    before it and from ``end_iter`` on, full batches): in an epoch-based loop ``AUSAMHook``
    calls :meth:`set_epoch` before every epoch; in an iteration-based loop each pass over the
    data is an epoch (with ``InfiniteSampler``: ``ceil(N_rank / b)`` batches).

    Examples:
        >>> train_dataloader = dict(
        >>>     batch_size=128,
        >>>     sampler=dict(type='DefaultSampler', shuffle=True),
        >>>     batch_sampler=dict(type='AUSAMBatchSampler', ratio=0.5, f_min=0.1,
        >>>                        f_max=0.5, ramp_epochs=30, warmup_epochs=1),
        >>>     dataset=dict(type='IndexedDataset', dataset=dict(...)))
    """

    def __init__(self, sampler: Sampler, batch_size: int, drop_last: bool = False,
                 ratio: float = 0.5, f_min: Optional[float] = None,
                 f_max: Optional[float] = None, ramp_start: Optional[float] = None,
                 ramp_epochs: Optional[float] = None, warmup_epochs: int = 1,
                 score: Union[str, dict, SelectionScore] = 'ausam',
                 beta: Optional[float] = None, seed: Optional[int] = None,
                 importance_weights: bool = False) -> None:
        batch_size = check_int('batch_size', batch_size, low=1)
        ratio = check_real('ratio', ratio, low=0, high=1, low_open=True)
        warmup_epochs = check_int('warmup_epochs', warmup_epochs, low=0)
        drop_last = check_bool('drop_last', drop_last)
        importance_weights = check_bool('importance_weights', importance_weights)
        if seed is not None:
            seed = check_int('seed', seed)
        dataset = getattr(sampler, 'dataset', None)
        if not isinstance(dataset, IndexedDataset):
            raise RuntimeError(
                'AUSAMBatchSampler needs the sample indices to travel with the data: wrap the '
                'train dataset as\n    dataset=dict(type=\'IndexedDataset\', dataset=<your '
                f'dataset>)\n(the inner sampler\'s dataset is {type(dataset).__name__}).')
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.ratio = ratio
        self.warmup_epochs = warmup_epochs
        self.importance_weights = importance_weights
        self.score = build_score(_one_way(score, f_min=f_min, f_max=f_max,
                                          ramp_start=ramp_start, ramp_epochs=ramp_epochs))
        self.seed = seed if seed is not None else getattr(sampler, 'seed', None)
        if self.seed is None:
            self.seed = sync_random_seed()
        self.rank, self.world_size = get_dist_info()
        self.infinite = isinstance(sampler, InfiniteSampler)
        self.message_hub = MessageHub.get_current_instance()
        self.history = ScoreHistory(len(dataset), beta=beta,
                                    fingerprint=dataset.fingerprint())
        self.start_iter = 0  # AUSAM's epoch 0 starts at this iteration (:meth:`start_at`)
        self.end_iter: Optional[int] = None  # full batches from here on (:meth:`set_sam_phase`)
        self.linked = False  # :meth:`link`: an AUSAM wrapper posts into ``history``
        self._next_epoch = 0
        self._drawn: Dict[int, list] = {}  # the last KEEP_DRAWS subsets, by iteration
        self._replay: Dict[int, list] = {}  # subsets saved in a checkpoint, by iteration
        self._warn_degenerate()

    def _warn_degenerate(self) -> None:
        """Say once, at start, when the options leave nothing to select or nothing to train."""
        k = subset_size(self.ratio, self.batch_size)
        if self.ratio < 1 and k >= self.batch_size:
            print_log(f'AUSAMBatchSampler: ratio={self.ratio} of batch_size={self.batch_size} '
                      f'rounds to {k} sample(s), the whole batch: every step is a plain SAM '
                      'step on the full batch, at SAM\'s cost. Use a larger batch_size (or '
                      'ratio=1.0 to say so).', logger='current', level=logging.WARNING)
        if len(self) == 0:
            print_log(f'AUSAMBatchSampler: {len(self.sampler)} sample(s) and batch_size='
                      f'{self.batch_size} with drop_last=True make no batch: training runs 0 '
                      'iterations per epoch. Use a smaller batch_size or drop_last=False.',
                      logger='current', level=logging.WARNING)

    def __len__(self) -> int:
        n = len(self.sampler)
        if self.infinite:  # InfiniteSampler's len is the whole dataset's
            n = math.ceil(n / self.world_size)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def options(self) -> Dict[str, Any]:
        """The configured options (the score's included), saved with the score history so that
        a resumed run logs every one the config changed (``AUSAMHook``). ``beta`` belongs to
        the history and resumes with it."""
        return dict(batch_size=self.batch_size, drop_last=self.drop_last, ratio=self.ratio,
                    warmup_epochs=self.warmup_epochs, **self.score.options(), seed=self.seed,
                    importance_weights=self.importance_weights)

    def link(self) -> None:
        """Called by ``AUSAMHook`` once an AUSAM wrapper posts into :attr:`history`."""
        self.linked = True

    def start_at(self, iteration: int) -> None:
        """AUSAM's epoch 0 (its warm-up and ramp) starts at ``iteration``: a run resumed from
        a checkpoint without scores (a SAM or base-optimizer run) calls it with the resumed
        iteration."""
        self.start_iter = check_int('iteration', iteration, low=0)

    def continue_from(self, previous: 'AUSAMBatchSampler') -> bool:
        """Continue the run of ``previous``, the sampler of a train dataloader that a hook
        rebuilt mid-run: its start, and its score history (the same object, so the wrapper
        keeps posting into it) when both draw from the same training set. Returns whether the
        history was continued (if not, this sampler's fresh one is used)."""
        old, new = previous.history, self.history
        same = old.size == new.size and new.fingerprint in (None, old.fingerprint)
        if same:
            self.history = old
        self.start_iter = previous.start_iter
        self.end_iter = previous.end_iter
        return same

    def set_sam_phase(self, first: int, stop: Optional[int]) -> None:
        """The wrapper's SAM phase, iterations ``[first, stop)`` (``AUSAMHook`` passes
        ``wrapper.sam_phase()`` before training): full batches outside it (the base
        optimizer's steps), AUSAM's epoch 0 - warm-up, then the ramp - at ``first`` or at
        :attr:`start_iter`, whichever is later."""
        self.start_iter = max(self.start_iter, first)
        self.end_iter = stop

    def set_epoch(self, epoch: int) -> None:
        """The epoch of the next pass (``AUSAMHook`` calls it before each epoch of an
        epoch-based loop; without calls, each pass is the next epoch)."""
        self._next_epoch = epoch

    def __iter__(self) -> Iterator[List[int]]:
        epoch, self._next_epoch = self._next_epoch, self._next_epoch + 1
        candidates: List[int] = []
        batch = 0
        for index in self.sampler:
            candidates.append(index)
            if len(candidates) == self.batch_size:
                yield self.select(candidates, epoch, batch)
                candidates, batch = [], batch + 1
        if candidates and not self.drop_last:
            yield self.select(candidates, epoch, batch)

    def select(self, candidates: List[int], epoch: int, batch: int) -> List[int]:
        """The subset of one candidate batch (all of it during warm-up or when ratio is 1).

        ``epoch`` and ``batch`` place it in the run (``epoch * len(self) + batch`` is its
        iteration); AUSAM's own epoch, which drives warm-up and ramp, counts from
        :attr:`start_iter`.
        """
        if not self.linked and self.message_hub.get_info('loop_stage') == 'train':
            # the Runner trains (RuntimeInfoHook set the stage) and no AUSAMHook linked us:
            # refuse at the first draw, before a warm-up trains for nothing. Draws before the
            # train stage are legitimate at any epoch: an iteration-based loop builds its
            # DataLoader iterator, whose workers prefetch, before any hook runs (with a short
            # epoch, past warm-up); they use the history as it is then (empty: uniform), as
            # every draw ahead of training uses the scores of its moment, and resume alike.
            raise RuntimeError(missing_hook('AUSAMBatchSampler'))
        per_epoch = max(len(self), 1)
        if self.infinite:  # one endless pass: the batch count makes the epochs
            epoch, position = batch // per_epoch, batch
        else:
            position = epoch * per_epoch + batch
        replayed = self._replay.pop(position, None)
        if replayed is not None:
            return replayed
        ausam_epoch = (position - self.start_iter) // per_epoch  # < 0 before a late phase
        k = subset_size(self.ratio, len(candidates))
        after = self.end_iter is not None and position >= self.end_iter
        if ausam_epoch < self.warmup_epochs or k >= len(candidates) or after:
            return list(candidates)
        probs = self.score.probabilities(self.history, torch.as_tensor(candidates), ausam_epoch)
        generator = generator_for(self.seed, epoch, batch, self.rank)
        for name, value in self.score.stats(ausam_epoch).items():
            self.message_hub.update_scalar(f'train/ausam/{name}', value)
        if self.importance_weights:
            pi = inclusion_probabilities(probs, k)
            chosen = draw_systematic(pi, generator)
            weights = importance_weights(pi, chosen).tolist()
            subset = [WeightedIndex(candidates[i], w) for i, w in zip(chosen.tolist(), weights)]
        else:
            subset = [candidates[i] for i in draw_subset(probs, k, generator).tolist()]
        self._drawn[position] = subset
        while len(self._drawn) > KEEP_DRAWS:
            del self._drawn[next(iter(self._drawn))]
        return subset

    # -- state: what a checkpoint keeps ------------------------------------------------------

    def state_dict(self) -> Dict[str, Any]:
        """The sampler's resume state, kept in ``checkpoint['ausam']`` by ``AUSAMHook``:

        - ``history``: the score history (:meth:`ScoreHistory.state_dict`);
        - ``start_iter``: the iteration where AUSAM's epoch 0 started;
        - ``options``: :meth:`options`, compared with the config's on resume;
        - ``draws_ahead``: the subsets drawn for iterations after the one the Runner trains
          (MessageHub's ``iter``), as ``{iteration: [indices, weights or None]}``: a
          DataLoader with workers draws ``prefetch_factor * num_workers`` batches ahead of
          training, with the scores of that moment, and a resumed run trains on the same
          subsets (:meth:`load_state_dict`); ``world_size``: the processes that drew them.
        """
        trained = self.message_hub.get_info('iter')
        first = 0 if trained is None else trained + 1
        ahead = {p: [[int(i) for i in subset],
                     [i.weight for i in subset] if self.importance_weights else None]
                 for p, subset in self._drawn.items() if p >= first}
        return dict(history=self.history.state_dict(), start_iter=self.start_iter,
                    options=self.options(), draws_ahead=ahead, world_size=self.world_size)

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`'s dict. The history and ``start_iter`` come from
        it; the options from the config, and each one that differs is logged (the resume
        rule, docs/reliability.md); the draws ahead are replayed when this run has as many
        processes (docs/reliability.md, "Resume: where it is bit-exact")."""
        saved_beta = state['history'].get('beta')
        if saved_beta != self.history.beta:
            print_log(f'AUSAMBatchSampler: the checkpoint\'s score history has beta={saved_beta}, '
                      f'the config beta={self.history.beta}; the history continues with the '
                      f'checkpoint\'s beta={saved_beta}.', logger='current',
                      level=logging.WARNING)
        self.history.load_state_dict(upgrade_fingerprint(state['history'], self.sampler.dataset))
        self.start_iter = int(state['start_iter'])
        for name, old, new in option_changes(state['options'], self.options()):
            print_log(f'AUSAMBatchSampler resumed: {config_value_used(name, old, new)}.',
                      logger='current', level=logging.WARNING)
        self._replay_draws_ahead(state['draws_ahead'], state['world_size'])

    def _replay_draws_ahead(self, draws: Dict[int, list], world_size: int) -> None:
        """Yield the saved subsets at their iterations instead of drawing them again from the
        resumed scores, so that the resumed run ends where the straight run ends."""
        self._replay = {}
        if not draws:
            return
        if world_size != self.world_size:
            print_log(f'AUSAMBatchSampler: the checkpoint was written by {world_size} '
                      f'process(es), this run has {self.world_size}: the {len(draws)} '
                      'subset(s) drawn ahead of the resumed iteration are drawn again from the '
                      'resumed scores.', logger='current', level=logging.WARNING)
            return
        first = min(int(p) for p in draws)
        if self.rank == 0:
            self._replay = {int(p): (list(indices) if weights is None else
                                     [WeightedIndex(i, w) for i, w in zip(indices, weights)])
                            for p, (indices, weights) in draws.items()}
        print_log(f'AUSAMBatchSampler: {len(draws)} subset(s) the DataLoader had drawn ahead of '
                  f'iteration {first} are replayed from the checkpoint.', logger='current')
        if self.world_size > 1:
            print_log(f'AUSAMBatchSampler: only rank 0 saves checkpoints, so only its subsets '
                      f'drawn ahead of iteration {first} are replayed; the other '
                      f'{self.world_size - 1} rank(s) draw theirs again from the resumed '
                      'scores, and this resume is not bit-exact. '
                      'train_dataloader.num_workers=0 draws nothing ahead (exact).',
                      logger='current', level=logging.WARNING)
