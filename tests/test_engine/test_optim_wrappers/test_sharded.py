"""SAM, AUSAM and ESAM refuse a model whose parameters are sharded (FSDP, ``fully_shard``)
before the first step, naming the strategy and DDP, the alternative: never a norm of the local
shard, silently. FSDP runs here on the CPU over gloo, in one process."""
import os

import pytest
import torch
import torch.distributed as dist
from mmengine.optim import build_optim_wrapper

import toy  # noqa: F401  (registers ToyConvNet)
from conftest import free_port
from toy import ToyConvNet, toy_batch

WRAPPERS = ['SAMOptimWrapper', 'AUSAMOptimWrapper', 'ESAMOptimWrapper']
# one process: torch's FSDP says it shards nothing (NO_SHARD); the wrappers refuse it alike
pytestmark = pytest.mark.filterwarnings('ignore:FSDP is switching to use `NO_SHARD`')


@pytest.fixture(scope='module')
def gloo():
    if not dist.is_available():
        pytest.skip('torch without distributed support')
    os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
    os.environ.setdefault('MASTER_PORT', str(free_port()))
    dist.init_process_group('gloo', rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def sharded_models():
    """(strategy name, a model sharded by it) for each sharding this torch runs on the CPU."""
    from torch.distributed.fsdp import FullyShardedDataParallel
    made = []
    try:
        made.append(('FSDP (FullyShardedDataParallel)', FullyShardedDataParallel(
            ToyConvNet(), device_id=torch.device('cpu'))))
    except Exception:  # an older torch whose FSDP needs CUDA: no CPU case here
        pass
    try:
        from torch.distributed.fsdp import fully_shard  # torch >= 2.6
        model = ToyConvNet()
        fully_shard(model)
        made.append(('FSDP (fully_shard)', model))
    except Exception:  # torch < 2.6 has no fully_shard
        pass
    if not made:
        pytest.skip(f'torch {torch.__version__} shards no model on the CPU here')
    return made


@pytest.mark.parametrize('wrapper', WRAPPERS)
def test_a_sharded_model_is_refused_before_the_first_step(gloo, wrapper):
    for strategy, model in sharded_models():
        optim = build_optim_wrapper(model, dict(type=wrapper,
                                                optimizer=dict(type='SGD', lr=0.1)))
        before = [p.detach().clone() for p in model.parameters()]
        message = rf'{wrapper} cannot train a model sharded by {strategy}.*DDP'
        with pytest.raises(RuntimeError, match=message.replace('(', r'\(').replace(')', r'\)')):
            optim.initialize_count_status(model, 0, 10)  # what the Runner calls before training
        with pytest.raises(RuntimeError, match='DDPStrategy'):
            with optim.optim_context(model):  # a loop that skips it: the first step refuses
                model(**toy_batch(), mode='loss')
        assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_an_unsharded_model_trains(gloo):
    model = ToyConvNet()
    optim = build_optim_wrapper(model, dict(type='SAMOptimWrapper',
                                            optimizer=dict(type='SGD', lr=0.1)))
    optim.initialize_count_status(model, 0, 10)
    with optim.optim_context(model):
        losses = model(**toy_batch(), mode='loss')
    optim.update_params(model.parse_losses(losses)[0])
    assert optim.optimizer_updates == 1
