"""The variant table (benchmarks/variants.py) that the benchmarks, plots and demo share."""
import pytest
from mmengine.config import Config

from ausam_mm.engine.convert import to_ausam, to_esam, to_sam
from benchmarks.variants import (VARIANTS, apply_variant, ideal_passes, train_args,
                                 uses_sampler, variant_options)
from ausam_mm.cli import train
from conftest import toy_runner_cfg


def plain_cfg(tmp_path):
    return Config(toy_runner_cfg(tmp_path, optim='OptimWrapper', experiment_name='variants'))


def test_each_variant_is_its_conversion_with_the_settings_it_accepts(tmp_path):
    for name, variant in VARIANTS.items():
        cfg, expected = plain_cfg(tmp_path), plain_cfg(tmp_path)
        changes = apply_variant(cfg, name, rho=0.2, ramp_epochs=3)
        if variant.conversion is None:
            assert changes == [] and cfg.to_dict() == expected.to_dict()
        elif variant.conversion == 'sam':  # no sampler, so no ramp
            to_sam(expected, rho=0.2, **variant.options)
        elif variant.conversion == 'esam':
            to_esam(expected, rho=0.2, **variant.options)
        elif variant.options.get('score', 'ausam') != 'ausam':  # the ramp is 'ausam''s
            to_ausam(expected, rho=0.2, **variant.options)
        else:
            to_ausam(expected, rho=0.2, ramp_epochs=3, **variant.options)
        assert cfg.to_dict() == expected.to_dict(), name
        assert uses_sampler(name) == ('batch_sampler' in cfg.train_dataloader), name
    assert variant_options('ausam_0.5', rho=0.2) == dict(rho=0.2, ratio=0.5)
    assert variant_options('base', rho=0.2) == {}


def test_train_args_rebuild_the_same_config_through_tools_train(tmp_path):
    for name in VARIANTS:
        cfg = plain_cfg(tmp_path)
        apply_variant(cfg, name, rho=0.2, ramp_epochs=3)
        args = train.parse_args(['cfg.py', '--work-dir', str(tmp_path),
                                 *train_args(name, rho=0.2, ramp_epochs=3)])
        rebuilt = plain_cfg(tmp_path)
        train.merge_args(rebuilt, args)
        rebuilt.pop('launcher')
        assert rebuilt.to_dict() == cfg.to_dict(), name
    assert train_args('base', rho=0.2) == []
    assert train_args('random_0.5') == ['--ausam', 'ratio=0.5', 'score=uniform']
    assert train_args('sam_late_0.25') == ['--sam', 'begin=0.75']
    assert train_args('ausam_late_0.25') == ['--ausam', 'ratio=0.5', 'begin=0.75']


def test_bad_settings_and_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\['ramp_epoch'\]"):
        apply_variant(plain_cfg(tmp_path), 'sam', ramp_epoch=3)  # typo: no conversion has it
    with pytest.raises(ValueError, match=r"'ausam_0.5' fixes \['ratio'\]"):
        apply_variant(plain_cfg(tmp_path), 'ausam_0.5', ratio=0.3)
    with pytest.raises(ValueError, match="'ausam_0.4'.*variants.py"):
        apply_variant(plain_cfg(tmp_path), 'ausam_0.4')


def test_ideal_passes_are_the_documented_costs():
    """docs/ausam.md, "Which one to use": passes per candidate sample."""
    expected = {'base': 1, 'sam': 2, 'ausam_0.3': 0.6, 'ausam_0.5': 1, 'ausam_1.0': 2,
                'random_0.5': 1, 'sam_every_2': 1.5, 'esam_0.5': 1 + 1 / 3 + 0.5,
                'sam_late_0.25': 0.75 + 0.25 * 2, 'ausam_late_0.25': 0.75 + 0.25 * 1,
                'sam_random_0.5': 1.5}
    for name, cost in expected.items():
        assert ideal_passes(name) == pytest.approx(cost), name
