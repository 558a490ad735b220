"""What long work shows in the terminal, and where the full detail goes.

Long work (training, building, generating) shows one rich progress bar with the figures that
matter (loss, steps/s or items/s, time left) instead of library log lines; ``--quiet`` shows
none. The full detail — every Trainer log (loss, grad norm, learning rate), every stage message —
goes to the ``polyglot`` logger, which ``--log-file`` writes to a file.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger("polyglot")


LOGGERS = ("polyglot", "transformers", "datasets", "peft")


def log_to_file(path: str | Path) -> logging.Handler:
    """Send polyglot's and the libraries' detail (transformers, datasets, peft) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    # transformers sets its own level when first imported: import its logging first, then
    # set INFO, so that its detail reaches the file (its terminal handler stays at warnings)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_info()
    for library_handler in logging.getLogger("transformers").handlers:
        if type(library_handler) is logging.StreamHandler:  # the terminal: warnings only
            library_handler.setLevel(logging.WARNING)
    for name in LOGGERS:
        target = logging.getLogger(name)
        target.addHandler(handler)
        target.setLevel(logging.INFO)
    return handler


def stop_logging_to_file(handler: logging.Handler) -> None:
    from transformers.utils import logging as hf_logging

    for name in LOGGERS:
        logging.getLogger(name).removeHandler(handler)
    handler.close()
    hf_logging.set_verbosity_warning()


def _bar(label: str, *fields: str):
    """The one look of polyglot's progress bars: label, bar, done/total, figures, time left."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        *(TextColumn(f) for f in fields),
        TimeRemainingColumn(),
    )


@contextmanager
def generation_bar(show: bool, total: int):
    """A rich bar for generating (items, items/s, time left), or nothing; yields ``advance(n)``.
    The bar is stopped however the block ends (a kill, an error), so the terminal is left clean."""
    if not show or total <= 0:
        yield lambda n: None
        return
    bar = _bar("generating", "{task.fields[rate]}")
    task = bar.add_task("generate", total=total, rate="")
    started, count = time.perf_counter(), [0]

    def advance(n: int) -> None:
        count[0] += n
        rate = count[0] / max(time.perf_counter() - started, 1e-9)
        bar.update(task, advance=n, rate=f"{rate:.2f} items/s")

    with bar:
        yield advance


def training_callback(total_steps: int, show: bool):
    """A Trainer callback: a rich progress bar (step, loss, steps/s, time left) when ``show``,
    and every log line to the ``polyglot.train`` logger either way."""
    from transformers import TrainerCallback

    train_logger = logging.getLogger("polyglot.train")

    class TrainingProgress(TrainerCallback):
        def __init__(self):
            self.bar = self.task = None
            self.loss = "–"
            self.started = time.perf_counter()
            self.first_step = 0

        def on_train_begin(self, args, state, control, **kwargs):
            self.first_step = state.global_step  # a resumed run starts past 0
            self.started = time.perf_counter()
            if not show:
                return
            self.bar = _bar("training", "loss {task.fields[loss]}", "{task.fields[rate]} steps/s")
            self.bar.start()
            self.task = self.bar.add_task(
                "train", total=total_steps, completed=state.global_step, loss="–", rate="–"
            )

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                done = state.global_step - self.first_step
                rate = done / max(time.perf_counter() - self.started, 1e-9)
                self.bar.update(
                    self.task, completed=state.global_step, loss=self.loss, rate=f"{rate:.2f}"
                )

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = dict(logs or {})
            if "loss" in logs:
                self.loss = f"{float(logs['loss']):.4f}"
                if self.bar is not None:
                    self.bar.update(self.task, loss=self.loss)
            train_logger.info("step %d %s", state.global_step, logs)

        def on_train_end(self, args, state, control, **kwargs):
            self.stop()

        def stop(self) -> None:
            """Stop the bar (also when training ends with an error or Ctrl-C)."""
            if self.bar is not None:
                self.bar.stop()
                self.bar = None

    return TrainingProgress()
