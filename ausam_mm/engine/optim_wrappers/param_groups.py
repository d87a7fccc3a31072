"""The SAM keys of the param groups (``rho``, ``sam_perturb``), and what a SAM wrapper does with
a checkpoint's options on resume (docs/reliability.md).

State comes from the checkpoint - ``rho`` and ``sam_perturb`` live in the optimizer's param
groups and resume with them, as ``lr`` does -, every other option from the config. Each value
that differs is logged as a warning, with the one used.
"""
import logging
from typing import Any, Dict, List

from mmengine.logging import print_log

from ...core.options import check_bool, check_real, config_value_used, option_changes

#: the param-group keys of the SAM step: the group's radius and whether it is perturbed
SAM_GROUP_KEYS = ('rho', 'sam_perturb')


def set_group_keys(param_groups: List[dict], rho: float) -> None:
    """Every group gets ``rho`` unless it has its own (``paramwise_cfg``); both keys checked.
    With several groups MMEngine appends its base settings to the wrapper's ``param_groups``,
    which param schedulers walk too (a ``param_name='rho'`` scheduler needs the key there)."""
    for i, group in enumerate(param_groups):
        group.setdefault('rho', rho)
        check_real(f'rho of param group {i}', group['rho'], low=0)
        check_bool(f'sam_perturb of param group {i} (paramwise_cfg.custom_keys)',
                   group.get('sam_perturb', True))


def group_keys(param_groups: List[dict]) -> List[Dict[str, Any]]:
    """The SAM keys of each param group, as configured (read before the checkpoint loads)."""
    return [{k: g[k] for k in SAM_GROUP_KEYS if k in g} for g in param_groups]


def keep_group_keys(owner: str, param_groups: List[dict],
                    configured: List[Dict[str, Any]]) -> None:
    """The checkpoint's param groups replace the config's (torch's ``load_state_dict``): a SAM
    key the checkpoint lacks (a base optimizer's run, ausam_mm 0.1) keeps the config's value; a
    ``sam_perturb`` that differs continues from the checkpoint, as ``lr`` does, and is
    logged."""
    for i, (group, config) in enumerate(zip(param_groups, configured)):
        for key, value in config.items():
            old = group.setdefault(key, value)
            if key == 'sam_perturb' and old != value:
                print_log(f'{owner} resumed: param group {i} continues with the checkpoint\'s '
                          f'sam_perturb={old}; the config\'s sam_perturb={value} is not used.',
                          logger='current', level=logging.WARNING)


def log_option_changes(owner: str, saved: Dict[str, Any], configured: Dict[str, Any]) -> None:
    """Warn of each option whose configured value differs from the checkpoint's."""
    for name, old, new in option_changes(saved, configured):
        if name == 'rho':
            note = (f'rho={old} continues from the checkpoint\'s param groups (optimizer '
                    f'state, like lr); the config\'s rho={new} is not used. To change rho '
                    "in a run, schedule it: dict(type=..., param_name='rho')")
        else:
            note = config_value_used(name, old, new)
        print_log(f'{owner} resumed: {note}.', logger='current', level=logging.WARNING)
