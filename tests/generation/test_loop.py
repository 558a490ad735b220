"""The one generation loop (polyglot/generation/loop.py)."""

from polyglot.generation.base import Generation, Request
from polyglot.generation.loop import generate_missing


class Backend:
    """Batches of two requests; records which batches ran."""

    def __init__(self):
        self.ran = []

    def batches(self, requests):
        return [requests[i : i + 2] for i in range(0, len(requests), 2)]

    def generate(self, todo):
        for index, batch in todo:
            self.ran.append(index)
            yield [Generation(r.key, [f"out {r.key}"], [1], 0.0, index) for r in batch]


def test_only_missing_requests_come_back_and_their_batches_run_whole():
    backend = Backend()
    requests = [Request(f"k{i}", f"p{i}", []) for i in range(5)]
    got = list(generate_missing(backend, requests, done={"k0", "k2", "k3"}))
    assert backend.ran == [0, 2]  # batch 1 (k2, k3) is done; batch 0 runs whole for k1
    assert [[g.key for g in gens] for gens in got] == [["k1"], ["k4"]]


def test_nothing_missing_runs_nothing():
    backend = Backend()
    requests = [Request("a", "p", [])]
    assert list(generate_missing(backend, requests, done={"a"})) == []
    assert backend.ran == []
