"""Cross-lingual inference strategies of ``polyglot eval --strategy``, one module each, found
by name in ``STRATEGIES`` (``polyglot/strategies/base.py``): ``native`` and ``translate-all``
(``translate_all.py``), ``selective`` (``selective.py``, with its detectors, curve and cost
beside it) and ``clc`` (``clc.py``). Each turns the config into a plan of per-item routes
(``polyglot/evaluate/plan.py``) and runs it through the one executor
(``polyglot/evaluate/runner.py``)."""
