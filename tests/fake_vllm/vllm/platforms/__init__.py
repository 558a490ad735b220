"""The stand-in's platform: a GPU (the real CPU build says is_cpu())."""

from types import SimpleNamespace

current_platform = SimpleNamespace(is_cpu=lambda: False, device_type="cuda")
