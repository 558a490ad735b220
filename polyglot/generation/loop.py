"""The one generation loop: requests → the backend's batches → generations, a batch at a time.

The eval runner, the data builder's teacher and the generating translators all go through
``generate_missing``. A batch that holds any request not yet ``done`` runs whole, so its
padding and its seed are those of an uninterrupted run (a resumed run gives the same text);
only the missing requests' generations come back, as each batch finishes, so the caller writes
them before the next one starts (a kill loses one batch at most).
"""

from __future__ import annotations

from collections.abc import Container, Iterator

from polyglot.generation.base import Backend, Generation, Request
from polyglot.progress import generation_bar


def generate_missing(
    backend: Backend,
    requests: list[Request],
    done: Container[str] = frozenset(),
    *,
    progress: bool = False,
) -> Iterator[list[Generation]]:
    """Yield, batch after batch, the generations of the requests whose key is not in ``done``
    (with a progress bar over them when ``progress``)."""
    batches = backend.batches(requests)
    todo = [(i, batch) for i, batch in enumerate(batches) if any(r.key not in done for r in batch)]
    pending = sum(1 for _, batch in todo for r in batch if r.key not in done)
    with generation_bar(progress, pending) as advance:
        for generations in backend.generate(todo):
            fresh = [g for g in generations if g.key not in done]
            yield fresh
            advance(len(fresh))
