"""Text generation backends with one interface: Hugging Face transformers and vLLM.

``load_backend(settings)`` returns a backend whose ``generate(requests)`` yields finished
batches in a deterministic order, so callers can write results as they come and resume.
"""

from polyglot.generation.base import Generation, GenerationSettings, Request
from polyglot.generation.registry import load_backend, register_backend

__all__ = ["Generation", "GenerationSettings", "Request", "load_backend", "register_backend"]
