"""``polyglot quickstart``: the whole pipeline in one command (see ``pipeline.py``)."""

from polyglot.quickstart.pipeline import quickstart

__all__ = ["quickstart"]
