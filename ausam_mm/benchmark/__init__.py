"""What the benchmarks, the plots and the demo share; ``tools/`` holds their command lines.

- :mod:`.variants`: the table of training variants (base optimizer, SAM, AUSAM at some ratio,
  random-subset SAM, ...) with their conversions, labels and plot colours;
- :mod:`.throughput`: :class:`~.throughput.ThroughputHook` and :func:`~.throughput.measure`,
  the speed and sample-forwards of one training run;
- :mod:`.synthetic`: generated inputs (a folder of class images) and the small conv net
  config that trains on them;
- :mod:`.speed`: the interleaved speed benchmark (``tools/benchmark_speed.py``);
- :mod:`.label_noise`: the label-noise accuracy study (``tools/benchmark_accuracy.py``);
- :mod:`.plots`: the figures (``tools/plot_results.py``, ``tools/demo.py``);
- :mod:`.paper_configs`: the paper's models as upstream configs on local synthetic data;
- :mod:`.demo`: what ``make demo`` runs (``tools/demo.py``): the label-noise study's digits,
  float and QAT, and the demo pose config, with tables and readings.

``import ausam_mm`` does not import this package; ``import ausam_mm.benchmark`` imports only the
variant table (the other modules need mmpretrain, scikit-learn or matplotlib)::

    from ausam_mm.benchmark import apply_variant
    apply_variant(cfg, 'ausam_0.5', rho=0.1)
"""
from .variants import (CONVERSIONS, VARIANTS, Conversion, Variant, apply_variant, ideal_passes,
                       train_args, uses_sampler, variant_options)

__all__ = [
    'CONVERSIONS', 'VARIANTS', 'Conversion', 'Variant', 'apply_variant', 'ideal_passes',
    'train_args', 'uses_sampler', 'variant_options'
]
