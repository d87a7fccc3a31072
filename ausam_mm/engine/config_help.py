"""The config lines each piece of AUSAM needs, shared by the errors of the hook, the sampler
and the wrapper (so that every missing-piece error shows the same, complete fix)."""

AUSAM_LINES = """\
    custom_hooks = [dict(type='AUSAMHook')]   # keep the config's other hooks in the list
    optim_wrapper = dict(type='AUSAMOptimWrapper', optimizer=<your optimizer>, rho=0.05)
    train_dataloader = dict(
        batch_sampler=dict(type='AUSAMBatchSampler', ratio=0.5),
        dataset=dict(type='IndexedDataset', dataset=<your dataset>))

or build the whole change with `python -m ausam_mm.cli.train CONFIG --ausam`."""


def missing_sampler(found: str) -> str:
    return (f'AUSAMHook found {found} as the train batch sampler, not AUSAMBatchSampler, which '
            'keeps the per-sample scores and draws the subsets. AUSAM needs these config '
            f'lines:\n\n{AUSAM_LINES}\n\nFor SAM on full batches, use '
            "optim_wrapper.type='SAMOptimWrapper' without AUSAMHook (`python -m "
            'ausam_mm.cli.train CONFIG --sam` converts an AUSAM config).')


def not_ausam_wrapper(found: str) -> str:
    return (f"train_dataloader.batch_sampler is AUSAMBatchSampler but optim_wrapper.type is "
            f'{found}, which posts no scores: the history would never fill and every batch '
            'would be a random subset. Either set\n'
            "    optim_wrapper = dict(type='AUSAMOptimWrapper', ...)   # or "
            "'AmpAUSAMOptimWrapper'\n"
            'or, for full batches, remove train_dataloader.batch_sampler and AUSAMHook from '
            'custom_hooks (`python -m ausam_mm.cli.train CONFIG --sam` does both).')


def missing_hook(who: str) -> str:
    return (f'{who} is not linked to the rest of AUSAM: AUSAMHook (in custom_hooks) links '
            'AUSAMBatchSampler, which keeps the per-sample scores, and AUSAMOptimWrapper, which '
            f'posts them. AUSAM needs these config lines:\n\n{AUSAM_LINES}')
