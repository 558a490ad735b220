"""Selective translation: translate only the items the model does not understand.

Its pieces sit together here: the strategy (``strategy.py``), the understanding-failure
detectors (``detectors.py``, reading ``signals.py``, ``reflection.py`` and a ``probe.py``), their
calibration (``calibration.py``; ``calibrate.py`` is ``polyglot detect train``), the
accuracy-vs-translation-rate curve (``curve.py``) and gap attribution (``attribution.py``).
Language identification, which every run uses, stays apart in ``polyglot/detect/``.
"""
