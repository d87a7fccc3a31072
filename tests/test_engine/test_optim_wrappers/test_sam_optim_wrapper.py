"""SAMOptimWrapper against a hand-written SAM, through MMEngine's real ``train_step``."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper, build_optim_wrapper

from ausam_mm.engine.optim_wrappers.sam import SAMMixin
from conftest import needs_cpu_amp, state
from toy import ToyConvNet, toy_batch


def reference_sam_step(model, batch, opt, rho, adaptive=False, eta=0.01):
    """SAM in plain PyTorch (davda54/sam's algorithm; docs/ausam.md, "The SAM step")."""
    x = batch['inputs']
    y = torch.stack([s.label for s in batch['data_samples']])
    F.cross_entropy(model.logits(x), y).backward()
    params = [p for p in model.parameters() if p.grad is not None]
    t = [(p.abs() + eta) if adaptive else torch.ones_like(p) for p in params]
    norm = torch.norm(torch.stack([(ti * p.grad).norm() for ti, p in zip(t, params)]))
    old = [p.detach().clone() for p in params]
    with torch.no_grad():
        for ti, p in zip(t, params):
            p.add_(rho * ti * ti * p.grad / (norm + 1e-12))
    opt.zero_grad()
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    F.cross_entropy(model.logits(x), y).backward()
    with torch.no_grad():
        for p, o in zip(params, old):
            p.copy_(o)
        for k, v in model.named_buffers():
            v.copy_(buffers[k])
    opt.step()
    opt.zero_grad()


def assert_close_states(a, b, atol=1e-6):
    for k in a:
        torch.testing.assert_close(a[k].float(), b[k].float(), atol=atol, rtol=0, msg=k)


@pytest.mark.parametrize('adaptive', [False, True])
@pytest.mark.parametrize('steps', [1, 4])
def test_matches_reference_sam(adaptive, steps):
    torch.manual_seed(0)
    model = ToyConvNet()
    ref = copy.deepcopy(model)
    wrapper = build_optim_wrapper(model, dict(
        type='SAMOptimWrapper', rho=0.5, adaptive=adaptive,
        optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-3)))
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    model.train(), ref.train()
    for step in range(steps):
        batch = toy_batch(seed=step)
        model.train_step(batch, wrapper)
        reference_sam_step(ref, batch, ref_opt, rho=0.5, adaptive=adaptive)
    assert_close_states(state(model), state(ref))


def test_second_pass_gradient_is_used():
    """rho > 0 moves the weights differently from the base optimizer; rho = 0 does not."""
    torch.manual_seed(0)
    base = ToyConvNet()
    after = {}
    for name, cfg in [('sgd', dict(type='OptimWrapper')),
                      ('sam0', dict(type='SAMOptimWrapper', rho=0.0)),
                      ('sam', dict(type='SAMOptimWrapper', rho=0.5))]:
        model = copy.deepcopy(base)
        wrapper = build_optim_wrapper(model, dict(cfg, optimizer=dict(type='SGD', lr=0.1)))
        model.train_step(toy_batch(), wrapper)
        after[name] = state(model)
    w = 'head.weight'
    torch.testing.assert_close(after['sam0'][w], after['sgd'][w], atol=1e-6, rtol=0)
    assert (after['sam'][w] - after['sgd'][w]).abs().max() > 1e-4


@pytest.mark.parametrize('kind,options', [('SAMOptimWrapper', {}),
                                          ('ESAMOptimWrapper', dict(gamma=0.5))])
@pytest.mark.parametrize('momentum,sync', [(0.1, False), (None, False), (0.1, True)])
def test_batchnorm_running_stats_as_after_one_forward(kind, options, momentum, sync):
    """SAM's second forward (and ESAM's ranking and subset forwards) leave BatchNorm's
    running statistics as the first forward alone does."""
    torch.manual_seed(0)
    model = ToyConvNet(momentum=momentum)
    if sync:  # SyncBatchNorm (without a process group it normalises like BatchNorm)
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
    probe = copy.deepcopy(model)
    batch = toy_batch(n=16)
    wrapper = build_optim_wrapper(model, dict(type=kind, rho=0.5, **options,
                                              optimizer=dict(type='SGD', lr=0.1)))
    model.train_step(batch, wrapper)
    probe.train()
    with torch.no_grad():
        probe(**probe.data_preprocessor(batch, True), mode='loss')
    for (name, buf), (_, expected) in zip(model.named_buffers(), probe.named_buffers()):
        torch.testing.assert_close(buf, expected, atol=1e-6, rtol=0, msg=name)


def test_rho_is_a_param_group_value_and_round_trips():
    model = ToyConvNet()
    wrapper = build_optim_wrapper(model, dict(type='SAMOptimWrapper', rho=0.2,
                                              optimizer=dict(type='SGD', lr=0.1)))
    assert all(g['rho'] == 0.2 for g in wrapper.param_groups)
    model.train_step(toy_batch(), wrapper)
    saved = copy.deepcopy(wrapper.state_dict())
    other = build_optim_wrapper(ToyConvNet(), dict(type='SAMOptimWrapper', rho=0.9,
                                                   optimizer=dict(type='SGD', lr=0.1)))
    other.load_state_dict(copy.deepcopy(saved))
    assert other.param_groups[0]['rho'] == 0.2
    torch.testing.assert_close(other.state_dict()['state'], saved['state'])


#: MMEngine's paramwise_cfg setting the param-group key by name: the head is not perturbed
FROZEN_HEAD = dict(custom_keys={'head': dict(sam_perturb=False)})


@pytest.mark.parametrize('kind', ['SAMOptimWrapper', 'ESAMOptimWrapper'])
def test_a_group_with_sam_perturb_false_stays_at_w_and_is_trained(kind):
    """The head keeps ``w`` in the second forward while the features move, ``||g||`` is the
    features' alone, and the base optimizer still steps the head."""
    torch.manual_seed(0)
    model = ToyConvNet()
    probe = copy.deepcopy(model)
    seen = []
    model.head.register_forward_pre_hook(lambda m, args: seen.append(
        (m.weight.detach().clone(), model.features[0].weight.detach().clone())))
    wrapper = build_optim_wrapper(model, dict(type=kind, rho=0.5, paramwise_cfg=FROZEN_HEAD,
                                              optimizer=dict(type='SGD', lr=0.1)))
    before = model.head.weight.detach().clone()
    batch = toy_batch()
    model.train_step(batch, wrapper)
    (head_w, conv_w), (head_e, conv_e) = seen[:2]  # the forwards at w and at w + e
    assert torch.equal(head_w, head_e) and not torch.equal(conv_w, conv_e)
    assert not torch.equal(model.head.weight, before)
    y = torch.stack([s.label for s in batch['data_samples']])
    F.cross_entropy(probe.logits(probe.data_preprocessor(batch, True)['inputs']), y).backward()
    norm = torch.norm(torch.stack([p.grad.norm() for p in probe.features.parameters()]))
    got = wrapper.message_hub.get_scalar('train/sam/grad_norm').current()
    assert got == pytest.approx(float(norm), rel=1e-5)


def test_sam_perturb_that_is_not_a_bool_is_refused_naming_the_group():
    with pytest.raises(TypeError, match=r"`sam_perturb of param group 8 \(paramwise_cfg"
                                        r"\.custom_keys\)` must be True or False, got 'no'"):
        build_optim_wrapper(ToyConvNet(), dict(
            type='SAMOptimWrapper', optimizer=dict(type='SGD', lr=0.1),
            paramwise_cfg=dict(custom_keys={'head': dict(sam_perturb='no')})))


def test_group_keys_a_checkpoint_lacks_keep_the_config_values(tmp_path):
    """A base optimizer's checkpoint (and ausam_mm 0.1's) has no 'rho' and no 'sam_perturb'
    in its param groups: the resumed SAM wrapper keeps the config's and steps. A checkpoint's
    own sam_perturb continues, as lr does, and the config's other value is logged."""
    model = ToyConvNet()
    plain = build_optim_wrapper(model, dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1),
                                            paramwise_cfg=dict(custom_keys={'head': {}})))

    def sam():
        return build_optim_wrapper(model, dict(type='SAMOptimWrapper', rho=0.3,
                                               optimizer=dict(type='SGD', lr=0.1),
                                               paramwise_cfg=FROZEN_HEAD))
    wrapper = sam()
    wrapper.load_state_dict(plain.state_dict())
    groups = wrapper.optimizer.param_groups
    assert [g['rho'] for g in groups] == [0.3] * 10
    assert [g.get('sam_perturb') for g in groups] == [None] * 8 + [False] * 2
    model.train_step(toy_batch(), wrapper)
    saved = copy.deepcopy(wrapper.state_dict())
    saved['param_groups'][8]['sam_perturb'] = True
    log = tmp_path / 'resume.log'
    MMLogger.get_instance(f'groups_{id(log)}', log_file=str(log))
    resumed = sam()
    resumed.load_state_dict(saved)
    assert [g.get('sam_perturb') for g in resumed.optimizer.param_groups][8:] == [True, False]
    assert ("param group 8 continues with the checkpoint's sam_perturb=True; the config's "
            'sam_perturb=False is not used') in log.read_text()


def test_logs_grad_norm_and_sharpness():
    model = ToyConvNet()
    wrapper = build_optim_wrapper(model, dict(type='SAMOptimWrapper', rho=0.5,
                                              optimizer=dict(type='SGD', lr=0.1)))
    model.train_step(toy_batch(), wrapper)
    hub = wrapper.message_hub
    assert hub.get_scalar('train/sam/grad_norm').current() > 0
    # the loss rises when moving along the gradient
    assert hub.get_scalar('train/sam/sharpness').current() > 0


def test_clip_grad_clips_the_second_pass_gradient():
    torch.manual_seed(0)
    model = ToyConvNet()
    wrapper = build_optim_wrapper(model, dict(type='SAMOptimWrapper', rho=0.5,
                                              clip_grad=dict(max_norm=1e-3),
                                              optimizer=dict(type='SGD', lr=1.0)))
    before = state(model)
    model.train_step(toy_batch(), wrapper)
    after = state(model)
    moved = torch.sqrt(sum(((after[k] - before[k]) ** 2).sum()
                           for k, _ in model.named_parameters()))
    assert moved <= 1e-3 + 1e-6
    assert wrapper.message_hub.get_scalar('train/grad_norm').current() > 1e-3


def test_accumulation_equals_sum_of_micro_batch_sam_gradients():
    """accumulative_counts=2: one update with the mean of two micro-batches' SAM gradients."""
    torch.manual_seed(0)
    model = ToyConvNet()
    ref = copy.deepcopy(model)
    wrapper = build_optim_wrapper(model, dict(type='SAMOptimWrapper', rho=0.5,
                                              accumulative_counts=2,
                                              optimizer=dict(type='SGD', lr=0.1)))
    wrapper.initialize_count_status(model, 0, 2)
    batches = [toy_batch(seed=1), toy_batch(seed=2)]
    for b in batches:
        model.train_step(b, wrapper)
    # reference: SAM gradient of each micro-batch at the same w, averaged, one SGD step
    grads = []
    for b in batches:
        probe = copy.deepcopy(ref)
        opt = torch.optim.SGD(probe.parameters(), lr=1.0)
        w0 = [p.detach().clone() for p in probe.parameters()]
        reference_sam_step(probe, b, opt, rho=0.5)
        grads.append([w - p.detach() for w, p in zip(w0, probe.parameters())])  # lr=1: grad
    with torch.no_grad():
        for i, p in enumerate(ref.parameters()):
            p.sub_(0.1 * (grads[0][i] + grads[1][i]) / 2)
    for (k, p), q in zip(model.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=0, msg=k)


def test_missing_forward_is_a_clear_error():
    model = ToyConvNet()
    wrapper = build_optim_wrapper(model, dict(type='SAMOptimWrapper',
                                              optimizer=dict(type='SGD', lr=0.1)))
    loss = model(**model.data_preprocessor(toy_batch(), True), mode='loss')['loss'].mean()
    with pytest.raises(RuntimeError, match='optim_context'):
        wrapper.update_params(loss)


def test_bad_rho_names_the_value():
    with pytest.raises(ValueError, match='-1'):
        build_optim_wrapper(ToyConvNet(), dict(type='SAMOptimWrapper', rho=-1,
                                               optimizer=dict(type='SGD', lr=0.1)))


def test_eta_without_adaptive_is_refused():
    """eta only scales ASAM's perturbation: given with adaptive=False it would do nothing."""
    with pytest.raises(ValueError, match=r'`eta=0.1`(.|\n)*adaptive=True'):
        build_optim_wrapper(ToyConvNet(), dict(type='SAMOptimWrapper', eta=0.1,
                                               optimizer=dict(type='SGD', lr=0.1)))
    wrapper = build_optim_wrapper(ToyConvNet(), dict(type='SAMOptimWrapper', adaptive=True,
                                                     eta=0.1, optimizer=dict(type='SGD', lr=0.1)))
    assert wrapper.eta == 0.1


@needs_cpu_amp
@pytest.mark.parametrize('dtype', ['bfloat16', 'float16'])
def test_amp_on_cpu_trains(dtype):
    torch.manual_seed(0)
    model = ToyConvNet()
    wrapper = build_optim_wrapper(model, dict(type='AmpSAMOptimWrapper', dtype=dtype,
                                              rho=0.5, optimizer=dict(type='SGD', lr=0.1)))
    assert isinstance(wrapper, SAMMixin)
    batch = toy_batch(n=16)
    losses = [model.train_step(batch, wrapper)['loss'].item() for _ in range(8)]
    assert losses[-1] < losses[0]
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_amp_on_cpu_builds_where_torch_has_a_cpu_scaler_and_else_names_that_torch():
    """torch >= 2.3: a CPU GradScaler; torch 2.1/2.2: refused, naming the torch that has it."""
    cfg = dict(type='AmpSAMOptimWrapper', rho=0.5, optimizer=dict(type='SGD', lr=0.1))
    if hasattr(torch.amp, 'GradScaler'):
        wrapper = build_optim_wrapper(ToyConvNet(), cfg)
        assert isinstance(wrapper.loss_scaler, torch.amp.GradScaler)
        assert wrapper.loss_scaler.is_enabled()
    else:
        with pytest.raises(RuntimeError, match=r"AMP on the 'cpu' device needs torch >= 2\.3"):
            build_optim_wrapper(ToyConvNet(), cfg)


@needs_cpu_amp
def test_fp16_overflow_skips_perturbation_and_step():
    """A loss scale of 1e30 overflows both fp16 passes: w is restored and the step is skipped."""
    torch.manual_seed(0)
    model = ToyConvNet()
    wrapper = build_optim_wrapper(model, dict(type='AmpSAMOptimWrapper', dtype='float16',
                                              loss_scale=dict(init_scale=1e30),
                                              rho=0.5, optimizer=dict(type='SGD', lr=0.1)))
    before = state(model)
    model.train_step(toy_batch(), wrapper)
    for k, _ in model.named_parameters():
        torch.testing.assert_close(state(model)[k], before[k], atol=0, rtol=0)
    assert wrapper.loss_scaler.get_scale() < 1e30  # the scaler backed off


def test_plain_optim_wrapper_is_untouched():
    """With ausam_mm imported, MMEngine's own OptimWrapper still takes one plain step: one
    forward, no BatchNorm freeze, the weights of torch's SGD on the mean loss."""
    torch.manual_seed(0)
    model = ToyConvNet()
    ref = copy.deepcopy(model)
    wrapper = build_optim_wrapper(model, dict(type='OptimWrapper',
                                              optimizer=dict(type='SGD', lr=0.1)))
    assert type(wrapper) is OptimWrapper and not isinstance(wrapper, SAMMixin)
    calls = []
    model.register_forward_hook(lambda *args: calls.append(1))
    batch = toy_batch()
    model.train_step(batch, wrapper)
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    ref.train()
    y = torch.stack([s.label for s in batch['data_samples']])
    F.cross_entropy(ref.logits(ref.data_preprocessor(batch, True)['inputs']), y).backward()
    opt.step()
    assert len(calls) == 1
    assert_close_states(state(model), state(ref))


def test_a_rho_scheduler_runs_on_a_wrapper_with_several_param_groups(tmp_path):
    """With several param groups MMEngine's wrapper lists one more, its base settings, in
    ``param_groups`` (what param schedulers walk): it carries ``rho`` too, so a ``rho``
    scheduler schedules every group (QAT configs have many groups)."""
    from conftest import toy_runner_cfg, train
    cfg = toy_runner_cfg(tmp_path, optim='SAMOptimWrapper', epochs=2, n=16)
    cfg['optim_wrapper'].update(rho=0.2, paramwise_cfg=FROZEN_HEAD)
    cfg['param_scheduler'] = dict(type='LinearParamScheduler', param_name='rho',
                                  start_factor=1.0, end_factor=0.5, by_epoch=True, begin=0,
                                  end=2)
    runner = train(cfg)
    groups = runner.optim_wrapper.param_groups
    assert len(groups) > 2 and len(runner.optim_wrapper.optimizer.param_groups) > 1
    assert [g['rho'] for g in groups] == pytest.approx([0.2 * 0.5] * len(groups))  # at the end
