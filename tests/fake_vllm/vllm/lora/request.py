"""The fake vLLM's LoRARequest."""


class LoRARequest:
    def __init__(self, name: str, slot: int, path: str):
        self.name, self.slot, self.path = name, slot, path
