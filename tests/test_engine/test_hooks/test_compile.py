"""``compile=True`` (MMEngine compiles ``model.train_step``) with the SAM wrappers, through the
real Runner: the run trains, ends where the eager run ends, says in the log what was compiled,
and compiles a fixed few graphs (the first iterations, a new batch size), not one per step.

The model is tests/toy.py's conv net (BatchNorm: the second pass freezes its statistics) with
mmpretrain's ``ClsDataPreprocessor``, which casts the inputs only. MMEngine's own
``ImgDataPreprocessor`` deep-copies every sample's metainfo inside the compiled ``train_step``,
and Dynamo compiles it again for each new value it copies (AUSAM's ``dataset_index``), with the
base optimizer as well, until its recompile limit: docs/benchmarks.md, "torch.compile". MMPose
models compile their forward only (``CompileForwardHook``):
tests/test_engine/test_hooks/test_compile_forward.py.
"""
import pytest
import torch

from conftest import GraphCount, log_of, needs_compile, toy_runner_cfg, train, weights
from toy import ToyConvNet  # noqa: F401  (registers)

#: wrapper -> (epochs, extra options): AUSAM's first epoch is its full-batch warm-up, so its
#: subsets (half a batch, a quarter for the last, partial batch) come in epochs 2 and 3
CASES = {'SAMOptimWrapper': (2, {}),
         'AUSAMOptimWrapper': (3, {}),
         'ESAMOptimWrapper': (2, dict(gamma=0.5))}
#: 36 samples in batches of 8: 5 iterations an epoch, the last one of 4 samples
SAMPLES, BATCH, ITERS_PER_EPOCH = 36, 8, 5


def compile_cfg(tmp_path, optim, compiled):
    epochs, options = CASES[optim]
    cfg = toy_runner_cfg(tmp_path / ('compiled' if compiled else 'eager'), optim=optim,
                         epochs=epochs, n=SAMPLES, batch_size=BATCH, log_level='INFO',
                         model=dict(type='ToyConvNet', data_preprocessor=dict(
                             type='mmpretrain.ClsDataPreprocessor')))
    cfg['optim_wrapper'].update(options)
    if compiled:
        cfg['compile'] = True
    return cfg


@needs_compile
@pytest.mark.parametrize('optim', list(CASES))
def test_compiled_run_ends_as_the_eager_one_without_recompiling_every_step(
        tmp_path, optim, fresh_dynamo):
    pytest.importorskip('mmpretrain')
    eager = weights(train(compile_cfg(tmp_path, optim, compiled=False)))

    count = GraphCount()
    runner = train(compile_cfg(tmp_path, optim, compiled=True), count)
    # trains like the eager run: BatchNorm buffers included, within float tolerance
    torch.testing.assert_close(weights(runner), eager, rtol=1e-4, atol=1e-5)

    graphs, compiling = count.graphs, count.compiling_iterations()
    assert graphs[0] > 0  # Dynamo compiled the first iteration
    # a few iterations compile (the first, the first of a new batch size), then none: a
    # recompile every step would compile in every iteration up to Dynamo's recompile limit
    assert len(compiling) <= 4, f'graphs after each iteration: {graphs}'
    assert graphs[-1] == graphs[-1 - ITERS_PER_EPOCH], \
        f'the last epoch compiled graphs: {graphs}'
    assert 'model.train_step is compiled (compile=True)' in log_of(runner)
