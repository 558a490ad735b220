"""The probe detector: logistic regression (or a small MLP) on the last hidden state at the end
of prompt + trace (Kang et al.'s best detector), trained with class weights and early stopping on a
validation split, saved with the identity of the model it reads (``probe.safetensors`` +
``probe.json``); loading it for another model or layer width is refused."""

from __future__ import annotations

import math
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.files import read_json, write_json

WEIGHTS, META = "probe.safetensors", "probe.json"


KINDS = ("logistic", "mlp")
MLP_WIDTH = 64


def _network(kind: str, width: int):
    import torch

    if kind == "mlp":
        return torch.nn.Sequential(
            torch.nn.Linear(width, MLP_WIDTH), torch.nn.ReLU(), torch.nn.Linear(MLP_WIDTH, 1)
        )
    return torch.nn.Sequential(torch.nn.Linear(width, 1))


class Probe:
    def __init__(self, network, mean, std, meta: dict, kind: str = "logistic"):
        self.network, self.mean, self.std, self.meta, self.kind = network, mean, std, meta, kind

    @classmethod
    def fit(cls, train: list, train_labels: list[int], val: list, val_labels: list[int],
            *, seed: int = 0, max_epochs: int = 500, patience: int = 25,
            kind: str = "logistic") -> Probe:  # fmt: skip
        """Full-batch logistic regression (or a one-hidden-layer MLP of 64 units, ``kind``;
        Adam, weight decay), each class weighted by the inverse of its count, stopped when the
        validation loss has not improved for ``patience`` epochs (the best epoch is kept)."""
        import torch

        if kind not in KINDS:
            raise ConfigError(f"probe kind {kind!r}: one of {', '.join(KINDS)}")
        torch.manual_seed(seed)
        x = torch.stack(train).float()
        y = torch.tensor(train_labels, dtype=torch.float32)
        mean, std = x.mean(0), x.std(0).clamp(min=1e-6)
        xv = (torch.stack(val).float() - mean) / std if val else None
        yv = torch.tensor(val_labels, dtype=torch.float32) if val else None
        x = (x - mean) / std
        positives = float(y.sum())
        if positives == 0 or positives == len(y):
            raise ConfigError(
                "the calibration set has only one class (every item understood, or none): "
                "more or other items are needed to train a probe"
            )
        pos_weight = torch.tensor((len(y) - positives) / positives)
        linear = _network(kind, x.shape[1])
        optimizer = torch.optim.Adam(linear.parameters(), lr=1e-2, weight_decay=1e-3)
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        best, best_state, waited = math.inf, None, 0
        for _ in range(max_epochs):
            optimizer.zero_grad()
            loss = loss_fn(linear(x)[:, 0], y)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                watched = loss_fn(linear(xv)[:, 0], yv) if xv is not None else loss
            if float(watched) < best - 1e-5:
                best, waited = float(watched), 0
                best_state = {k: v.clone() for k, v in linear.state_dict().items()}
            else:
                waited += 1
                if waited >= patience:
                    break
        linear.load_state_dict(best_state)
        linear.eval()
        return cls(linear, mean, std, {}, kind)

    def score(self, hidden) -> float:
        import torch

        z = (hidden.float() - self.mean) / self.std
        with torch.no_grad():
            return float(self.network(z[None])[0, 0])

    def scores(self, hidden: dict) -> dict[str, float]:
        width = self.mean.shape[0]
        for key, vector in hidden.items():
            if vector.shape[0] != width:
                raise ConfigError(
                    f"the probe reads hidden states of width {width}, this model's are "
                    f"{vector.shape[0]} ({key}): the probe was trained on another model"
                )
        return {key: self.score(vector) for key, vector in hidden.items()}

    def save(self, folder: str | Path, meta: dict) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {f"network.{k}": v for k, v in self.network.state_dict().items()}
        tensors.update(mean=self.mean, std=self.std)
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / WEIGHTS))
        meta = {**meta, "probe_kind": self.kind}
        write_json(folder / META, meta)
        self.meta = meta

    @classmethod
    def load(cls, folder: str | Path, identity: dict | None = None) -> Probe:
        """The probe in ``folder``; with ``identity`` (``provenance.model_identity`` of the
        model it is to read), refused unless it was trained on that model (and adapter)."""
        from safetensors.torch import load_file

        folder = Path(folder)
        if not (folder / WEIGHTS).is_file() or not (folder / META).is_file():
            raise ConfigError(f"{folder}: no probe ({WEIGHTS} and {META}; `polyglot detect train`)")
        meta = read_json(folder / META, "probe metadata")
        if identity is not None:
            problem = identity_mismatch(meta.get("model_identity"), identity)
            if problem:
                raise ConfigError(
                    f"{folder}: the probe was trained on another model ({problem}); train one "
                    "for this model with `polyglot detect train`"
                )
        t = load_file(str(folder / WEIGHTS))
        kind = meta.get("probe_kind", "logistic")
        network = _network(kind, t["mean"].shape[0])
        if "weight" in t:  # a probe saved before MLP probes existed: one linear layer
            state = {"0.weight": t["weight"][None], "0.bias": t["bias"]}
        else:
            state = {
                k.removeprefix("network."): v for k, v in t.items() if k.startswith("network.")
            }
        network.load_state_dict(state)
        network.eval()
        return cls(network, t["mean"], t["std"], meta, kind)


def identity_mismatch(recorded: dict | None, wanted: dict) -> str | None:
    """Why a probe recorded for ``recorded`` does not fit the model ``wanted`` (None: it fits).
    Local models compare by fingerprint, hub models by id and revision; adapters by fingerprint."""
    if not recorded:
        return "it records no model identity"
    if recorded.get("fingerprint") and wanted.get("fingerprint"):
        if recorded["fingerprint"] != wanted["fingerprint"]:
            return f"fingerprint {recorded['fingerprint']}, this one {wanted['fingerprint']}"
    elif (recorded.get("model"), recorded.get("revision")) != (
        wanted.get("model"),
        wanted.get("revision"),
    ):
        return f"{recorded.get('model')}@{recorded.get('revision')}, this one " + (
            f"{wanted.get('model')}@{wanted.get('revision')}"
        )
    if recorded.get("adapter_fingerprint") != wanted.get("adapter_fingerprint"):
        return "another adapter (or none)"
    return None
