"""The device kit's spec (requirements/device-kit.txt) is complete: every distribution that
``import ausam_mm, mmpose.models, mmpretrain.models, brevitas`` loads here, and every one that
the kit's distributions declare, is on the lent GPU machine (requirements/device-image.txt) or
in the kit. Nothing is downloaded or built: the check reads the spec, the image list and this
environment's metadata, and imports the four in a process of its own (dev/device_kit.py
check makes the same check; `make device-rehearsal` is the end-to-end proof).
"""
from importlib import metadata

import pytest

from dev import device_kit

SPEC = device_kit.read_spec()
IMAGE = device_kit.read_pins(device_kit.IMAGE)
LOCK = device_kit.read_pins(device_kit.LOCK)


def stack_is_the_locked_one():
    """The kit carries requirements/lock.txt's stack; another stack (the torch 2.1 lock) loads
    other distributions."""
    for name in ('torch', 'mmcv', 'mmpose', 'mmpretrain', 'brevitas'):
        try:
            have = metadata.version(name).split('+')[0]
        except metadata.PackageNotFoundError:
            return f'{name} is not installed'
        if have != LOCK[name]:
            return f'{name} {have} here, the kit carries {LOCK[name]} (requirements/lock.txt)'
    return ''


pytestmark = pytest.mark.skipif(bool(stack_is_the_locked_one()),
                                reason=stack_is_the_locked_one() or 'locked stack')


@pytest.fixture(scope='module')
def traced():
    return device_kit.traced_needs(SPEC)


def without(*names):
    return {k: v for k, v in SPEC.items() if k not in names}


def test_the_kit_holds_every_distribution_the_imports_load_beyond_the_machine(traced):
    assert 'mmdet' in traced  # imported by mmpose.models, declared by nothing: only seen here
    assert device_kit.missing(traced, SPEC, IMAGE) == {}


def test_the_kit_holds_every_distribution_its_distributions_declare():
    declared = device_kit.declared_needs(SPEC, IMAGE)
    assert {'mmengine', 'mmcv', 'mmpose', 'json-tricks', 'yapf', 'platformdirs'} <= set(declared)
    assert device_kit.missing(declared, SPEC, IMAGE) == {}


def test_a_needed_distribution_dropped_from_the_spec_is_named(traced):
    assert list(device_kit.missing(traced, without('mmdet'), IMAGE)) == ['mmdet']
    spec = without('json-tricks', 'platformdirs')  # declared by mmpose and by yapf
    assert set(device_kit.missing(device_kit.declared_needs(spec, IMAGE), spec, IMAGE)) == {
        'json-tricks', 'platformdirs'}
    # the machine's own packages need no line: numpy is needed and on the machine
    assert 'numpy' in traced and 'numpy' not in device_kit.missing(traced, SPEC, IMAGE)


def test_skipped_distributions_are_hidden_from_the_imports(traced):
    assert SPEC['albumentations'].kind == 'skip'
    try:
        metadata.version('albumentations')
    except metadata.PackageNotFoundError:
        pytest.skip('albumentations is not installed here: nothing to hide')
    assert 'albumentations' not in traced  # mmpose imports it only when it is there


def test_the_spec_agrees_with_the_machine_and_the_lock():
    assert device_kit.spec_problems(SPEC, IMAGE) == []
    for entry in SPEC.values():
        if entry.kind in device_kit.CARRIED:
            assert entry.version == LOCK[entry.name], entry
    wrong = dict(SPEC, numpy=device_kit.Entry('numpy', '2.4.6', 'wheel', 'numpy'))
    assert device_kit.spec_problems(wrong, IMAGE) == [
        'numpy: the machine has it; carry it only as a `pin` line saying why its version is '
        'needed']


def test_a_malformed_spec_line_is_refused_with_the_expected_form(tmp_path):
    spec = tmp_path / 'kit.txt'
    spec.write_text('mmengine  # wheel: fine\nmmpose  # wheels: a typo\n')
    with pytest.raises(ValueError, match=r'kit.txt:2: expected "NAME\[==VERSION\]  # KIND: why"'):
        device_kit.read_spec(str(spec))
    spec.write_text('mmengine  # wheel: fine\nnot-in-the-lock  # wheel: no version\n')
    with pytest.raises(ValueError, match='not-in-the-lock has no version'):
        device_kit.read_spec(str(spec))
