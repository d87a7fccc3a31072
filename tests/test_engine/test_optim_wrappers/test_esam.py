"""ESAMOptimWrapper against hand-written ESAM steps, through MMEngine's real ``train_step``."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

from ausam_mm.engine import resume_checkpoint_path
from ausam_mm.engine.convert import to_amp, to_esam
from conftest import needs_cpu_amp, params, run_train, toy_runner_cfg
from toy import ToyConvNet, toy_batch


def esam(model, **options):
    options.setdefault('optimizer', dict(type='SGD', lr=1.0))  # lr 1: the step is -gradient
    return build_optim_wrapper(model, dict(type='ESAMOptimWrapper', rho=0.5, **options))


def descent_gradient(model, wrapper, batch):
    before = params(model)
    model.train_step(batch, wrapper)
    after = params(model)
    return {k: before[k] - after[k] for k in before}


def loss_at(model, data, keep=None):
    """Per-sample losses of the samples ``keep`` (all by default) at the model's weights, on a
    copy of the model (so its BatchNorm running statistics stay as they were; the batch's
    statistics normalise, as in SAM's second pass). Returns (losses, the copy)."""
    probe = copy.deepcopy(model)
    if keep is not None:
        data = dict(inputs=data['inputs'][keep],
                    data_samples=[data['data_samples'][i] for i in keep])
    return probe(**data, mode='loss')['loss'], probe


def reference_esam_gradient(model, batch, rho, gamma, kept=None, perturb_fraction=1.0):
    """ESAM's descent gradient written out: SAM ascent on the whole batch (on the ``kept``
    parameters only, radius rho / perturb_fraction), the whole batch's losses at w + e, the
    floor(gamma B) samples with the largest increase, the gradient of their mean loss at w + e.
    Returns (gradient by name, chosen positions)."""
    probe = copy.deepcopy(model)
    data = probe.data_preprocessor(batch, True)
    named = dict(probe.named_parameters())
    kept = list(named) if kept is None else kept
    at_w = probe(**data, mode='loss')['loss']
    grads = torch.autograd.grad(at_w.mean(), [named[k] for k in kept])
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    with torch.no_grad():
        for k, g in zip(kept, grads):
            named[k].add_(rho / perturb_fraction * g / (norm + 1e-12))
        at_e, _ = loss_at(probe, data)
    increase = (at_e - at_w).tolist()
    count = int(gamma * len(increase))
    chosen = sorted(sorted(range(len(increase)), key=lambda i: -increase[i])[:count])
    descent, at_e_copy = loss_at(probe, data, keep=chosen)
    names = list(named)
    grads = torch.autograd.grad(descent.mean(), [dict(at_e_copy.named_parameters())[k]
                                                 for k in names])
    return dict(zip(names, grads)), chosen


def test_gamma_one_is_sam():
    torch.manual_seed(0)
    model = ToyConvNet()
    ref = copy.deepcopy(model)
    optimizer = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-3)
    wrapper = esam(model, gamma=1.0, optimizer=optimizer)
    sam = build_optim_wrapper(ref, dict(type='SAMOptimWrapper', rho=0.5, optimizer=optimizer))
    for step in range(4):
        model.train_step(toy_batch(seed=step), wrapper)
        ref.train_step(toy_batch(seed=step), sam)
    a, b = params(model), params(ref)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0, msg=k)


@pytest.mark.parametrize('gamma', [0.5, 0.25])
def test_descent_gradient_is_that_of_the_sharpest_samples(gamma):
    torch.manual_seed(0)
    model = ToyConvNet()
    batch = toy_batch(n=16, seed=3)
    expected, chosen = reference_esam_gradient(model, batch, rho=0.5, gamma=gamma)
    assert len(chosen) == int(16 * gamma) and chosen != list(range(len(chosen)))
    wrapper = esam(model, gamma=gamma)
    got = descent_gradient(model, wrapper, batch)
    for k in got:
        torch.testing.assert_close(got[k], expected[k], atol=1e-6, rtol=0, msg=k)
    assert wrapper.message_hub.get_scalar('train/esam/selected').current() == int(16 * gamma)
    # the whole batch would give another gradient: the selection matters
    probe = copy.deepcopy(model)
    other, _ = reference_esam_gradient(probe, batch, rho=0.5, gamma=1.0)
    assert max((other[k] - expected[k]).abs().max() for k in other) > 1e-3


def test_stochastic_weight_perturbation_against_a_reference():
    """perturb_fraction=0.5: the ascent pass differentiates half the parameter tensors (their
    gradient hooks fire twice, the others' once), those move by rho / 0.5, and the descent
    gradient is then ESAM's; another step draws other tensors."""
    torch.manual_seed(0)
    model = ToyConvNet()
    wrapper = esam(model, gamma=0.5, perturb_fraction=0.5)
    names = [k for k, _ in model.named_parameters()]
    fired = {k: 0 for k in names}
    for k, p in model.named_parameters():
        p.register_hook(lambda grad, k=k: fired.__setitem__(k, fired[k] + 1))
    batch = toy_batch(n=16, seed=1)
    probe = copy.deepcopy(model)
    got = descent_gradient(model, wrapper, batch)
    kept = [k for k in names if fired[k] == 2]
    assert len(kept) == len(names) // 2 and all(fired[k] == 1 for k in names if k not in kept)
    expected, _ = reference_esam_gradient(probe, batch, rho=0.5, gamma=0.5, kept=kept,
                                          perturb_fraction=0.5)
    for k in got:
        torch.testing.assert_close(got[k], expected[k], atol=1e-6, rtol=0, msg=k)
    assert all(p.requires_grad for p in model.parameters())  # every tensor trains
    masks = set()
    for step in range(4):
        fired.update({k: 0 for k in names})
        model.train_step(toy_batch(n=16, seed=step), wrapper)
        masks.add(tuple(k for k in names if fired[k] == 2))
    assert len(masks) > 1


def test_weight_perturbation_draws_among_the_perturbed_groups():
    """With the head's group at sam_perturb=False, perturb_fraction=0.5 keeps half of the 8
    feature tensors in the ascent pass at every step (their gradient hooks fire twice)."""
    torch.manual_seed(0)
    model = ToyConvNet()
    wrapper = esam(model, perturb_fraction=0.5,
                   paramwise_cfg=dict(custom_keys={'head': dict(sam_perturb=False)}))
    fired = {}
    for k, p in model.features.named_parameters():
        p.register_hook(lambda grad, k=k: fired.__setitem__(k, fired.get(k, 0) + 1))
    for step in range(4):
        fired.clear()
        model.train_step(toy_batch(n=16, seed=step), wrapper)
        assert sorted(fired.values()) == [1] * 4 + [2] * 4


def test_scalar_loss_error_names_esam_and_the_fix():
    model = ToyConvNet(per_sample=False)
    with pytest.raises(ValueError, match=r"ESAM needs one loss value.*--esam"):
        model.train_step(toy_batch(), esam(model))


@pytest.mark.parametrize('option,value', [('gamma', 0.0), ('gamma', 1.5),
                                          ('perturb_fraction', 0.0)])
def test_bad_options_name_the_value(option, value):
    with pytest.raises(ValueError, match=f'`{option}` must be in \\(0, 1\\], got {value}'):
        esam(ToyConvNet(), **{option: value})
    with pytest.raises(TypeError, match=f"`{option}` must be a number, got '0.5' \\(str\\)"):
        esam(ToyConvNet(), **{option: '0.5'})


def test_weight_perturbation_with_synchronised_ascent_is_refused():
    with pytest.raises(ValueError, match='sync_perturbation=False'):
        esam(ToyConvNet(), perturb_fraction=0.5, sync_perturbation=True)


def test_resume_is_exact(tmp_path):
    def cfg(work_dir, epochs, **kw):
        c = toy_runner_cfg(work_dir, optim='ESAMOptimWrapper', epochs=epochs, **kw)
        c['optim_wrapper'].update(gamma=0.5, perturb_fraction=0.5)
        return Config(c)
    straight = Runner.from_cfg(cfg(tmp_path / 'straight', 3))
    straight.train()
    Runner.from_cfg(cfg(tmp_path / 'split', 2)).train()
    load_from = resume_checkpoint_path(str(tmp_path / 'split'), True)
    resumed = Runner.from_cfg(cfg(tmp_path / 'split', 3, resume=True, load_from=load_from))
    forwards = []
    resumed.model.register_forward_pre_hook(lambda *args: forwards.append(1))
    resumed.train()
    assert len(forwards) == 4 * 3  # it did resume: epoch 3 only, 3 forwards per ESAM step
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    options = resumed.optim_wrapper.state_dict()['sam_options']
    assert (options['gamma'], options['perturb_fraction']) == (0.5, 0.5)


def test_to_esam_sets_per_sample_losses_and_no_sampler():
    cfg = Config(dict(
        model=dict(type='ImageClassifier', head=dict(
            type='LinearClsHead', loss=dict(type='CrossEntropyLoss', loss_weight=1.0))),
        train_dataloader=dict(batch_size=8, dataset=dict(type='CustomDataset')),
        optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1))))
    changes = to_esam(cfg, gamma=0.25)
    assert cfg.optim_wrapper.type == 'ESAMOptimWrapper' and cfg.optim_wrapper.gamma == 0.25
    assert cfg.model.head.loss.reduction == 'none'
    assert 'batch_sampler' not in cfg.train_dataloader
    assert cfg.train_dataloader.dataset.type == 'CustomDataset'
    assert any('ESAMOptimWrapper' in c for c in changes)
    to_amp(cfg)
    assert cfg.optim_wrapper.type == 'AmpESAMOptimWrapper'
    with pytest.raises(ValueError, match=r"--esam: unknown option\(s\) \['ratio'\]"):
        to_esam(cfg, ratio=0.5)


def test_train_tool_esam_flag(tmp_path):
    cfg = toy_runner_cfg(tmp_path / 'unused', optim='OptimWrapper', epochs=1,
                         custom_imports=dict(imports=['toy']))
    cfg.pop('experiment_name')
    path = str(tmp_path / 'toy_cfg.py')
    Config(cfg).dump(path)
    runner = run_train([path, '--work-dir', str(tmp_path / 'w'), '--esam', 'gamma=0.5',
                        'interval=2'])
    wrapper = runner.optim_wrapper
    assert type(wrapper).__name__ == 'ESAMOptimWrapper'
    assert (wrapper.gamma, wrapper.sam_schedule.interval, wrapper.optimizer_updates) == (0.5, 2, 4)
    assert runner.message_hub.get_scalar('train/esam/selected').current() == 4


@needs_cpu_amp
def test_amp_on_cpu_trains():
    torch.manual_seed(0)
    model = ToyConvNet()
    wrapper = build_optim_wrapper(model, dict(type='AmpESAMOptimWrapper', dtype='bfloat16',
                                              rho=0.5, gamma=0.5,
                                              optimizer=dict(type='SGD', lr=0.1)))
    batch = toy_batch(n=16)
    losses = [model.train_step(batch, wrapper)['loss'].item() for _ in range(8)]
    assert losses[-1] < losses[0]
    assert wrapper.message_hub.get_scalar('train/esam/selected').current() == 8
