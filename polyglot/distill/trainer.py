"""Token-level distillation on transformers' ``Trainer``: a custom ``compute_loss`` reads the
student on its sequence and the teacher (frozen, on the fly, or its precomputed top-k) on its
own, aligns the two on the shared response tokens and minimises

    (1 − ce_weight) · divergence(teacher ‖ student) + ce_weight · cross-entropy(response)

averaged over the batch's response tokens. With ``on_policy`` = λ, a seeded λ share of the
steps replaces each pair's response by the student's own sample for its prompt (GKD), scored
by the teacher after the teacher's prompt; those steps use the divergence alone."""

from __future__ import annotations

import random
from dataclasses import dataclass

# this module is the distillation's training loop: it is imported only when a token-level
# distillation runs (polyglot/distill/run.py), so that the command line starts without torch
import torch
from transformers import Trainer

from polyglot.config import ConfigError
from polyglot.distill.batches import pad_rows, prompts_of
from polyglot.distill.divergence import sparse_divergence, token_divergence
from polyglot.distill.pairs import response_positions


@dataclass(frozen=True)
class DistillConfig:
    """The loss and sampling settings of ``DistillTrainer`` (from a distillation recipe)."""

    divergence: str
    beta: float
    temperature: float
    ce_weight: float
    on_policy: float
    on_policy_max_new_tokens: int
    generation: object  # the recipe's SamplerSettings: on-policy samples through hf or vLLM

    @classmethod
    def from_recipe(cls, recipe) -> DistillConfig:
        return cls(recipe.divergence, recipe.beta, recipe.temperature, recipe.ce_weight,
                   recipe.on_policy, recipe.on_policy_max_new_tokens, recipe.generation)  # fmt: skip


class DistillTrainer(Trainer):
    """transformers' ``Trainer`` with the distillation loss (see the module docstring): the
    teacher online (``teacher``) or its precomputed top-k (``cache``); ``settings``: the loss
    and sampling settings; ``vocab``: the shared vocabulary's size."""

    def __init__(self, *args, teacher=None, settings: DistillConfig | None = None,
                 vocab: int = 0, cache=None, pad_id: int = 0, eos_id: int | None = None,
                 tokenizer=None, **kwargs):  # fmt: skip
        super().__init__(*args, **kwargs)
        self.student_tokenizer = tokenizer
        self._vllm = None  # TRL's colocated engine for on-policy samples (generation vllm)
        self.teacher, self.settings, self.vocab = teacher, settings, vocab
        self.cache, self.pad_id, self.eos_id = cache, pad_id, eos_id
        self._sums: dict[str, float] = {}
        self._count = 0
        if self.teacher is not None:
            self.teacher.to(self.args.device)  # each process's own device (DDP)
            self.teacher.eval()
            for parameter in self.teacher.parameters():
                parameter.requires_grad_(False)

    # -- the loss ---------------------------------------------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        s = self.settings
        on_policy = s.on_policy > 0 and self._on_policy_step()
        if on_policy:
            inputs = self._sample(model, inputs)
        outputs = model(input_ids=inputs["student_ids"], attention_mask=inputs["student_mask"])
        s_logits = outputs.logits[:, :-1, : self.vocab]
        s_pos = response_positions(inputs["student_labels"])
        student = s_logits[s_pos]  # [tokens, vocab], row by row, left to right
        if self.cache is not None and not on_policy:
            values, indices = self.cache.lookup(inputs["index"].tolist(), student.device)
            divergence = sparse_divergence(
                student, values, indices, s.divergence, beta=s.beta, temperature=s.temperature
            )
        else:
            teacher = self._teacher_logits(inputs)
            if teacher.shape[0] != student.shape[0]:
                raise RuntimeError(
                    f"{teacher.shape[0]} teacher and {student.shape[0]} student response "
                    "tokens: the pairs' responses do not align"
                )
            divergence = token_divergence(
                student, teacher, s.divergence, beta=s.beta, temperature=s.temperature
            )
        divergence = divergence.mean()
        targets = inputs["student_labels"][:, 1:][s_pos]
        ce = torch.nn.functional.cross_entropy(student.float(), targets)
        weight = 0.0 if on_policy else s.ce_weight
        loss = (1 - weight) * divergence + weight * ce
        if not torch.isfinite(loss):  # never train on (and save) NaN weights
            raise ConfigError(
                f"the distillation loss is not finite at step {self.state.global_step + 1} "
                f"(divergence {float(divergence)}, cross-entropy {float(ce)}); lower "
                "training.learning_rate, or rerun: it resumes from the last checkpoint"
            )
        self._note(divergence=divergence.item(), ce=ce.item(), on_policy=float(on_policy))
        return (loss, outputs) if return_outputs else loss

    def _teacher_logits(self, inputs):
        with torch.no_grad():
            logits = self.teacher(
                input_ids=inputs["teacher_ids"], attention_mask=inputs["teacher_mask"]
            ).logits[:, :-1, : self.vocab]
        return logits[response_positions(inputs["teacher_labels"])]

    # -- on-policy samples ---------------------------------------------------------------
    def _on_policy_step(self) -> bool:
        step = self.state.global_step
        return random.Random(f"{self.args.seed}/{step}").random() < self.settings.on_policy

    def _sample(self, model, inputs) -> dict:
        """The batch with each response replaced by the student's sample for its prompt."""
        s_prompts = prompts_of(inputs["student_ids"], inputs["student_labels"])
        t_prompts = prompts_of(inputs["teacher_ids"], inputs["teacher_labels"])
        width = max(len(p) for p in s_prompts)
        device = inputs["student_ids"].device
        ids = torch.full((len(s_prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, prompt in enumerate(s_prompts):  # left padding for generation
            ids[i, width - len(prompt) :] = torch.tensor(prompt)
            mask[i, width - len(prompt) :] = 1
        model = self.accelerator.unwrap_model(model)  # DDP wraps it: generate is inside
        if self.settings.generation.backend == "vllm":
            generated = self._vllm_samples(model, s_prompts)
        else:
            was_training = model.training
            model.eval()
            with torch.no_grad():
                generated = model.generate(
                    input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=True,
                    temperature=1.0, top_k=0, top_p=1.0,
                    max_new_tokens=self.settings.on_policy_max_new_tokens,
                    pad_token_id=self.pad_id, eos_token_id=self.eos_id,
                )[:, width:].tolist()  # fmt: skip
            if was_training:
                model.train()
        rows = {"student_ids": [], "student_labels": [], "teacher_ids": [],
                "teacher_labels": []}  # fmt: skip
        for s_prompt, t_prompt, sample in zip(s_prompts, t_prompts, generated, strict=True):
            if self.eos_id in sample:
                sample = sample[: sample.index(self.eos_id) + 1]
            sample = sample or [self.eos_id]
            rows["student_ids"].append(s_prompt + sample)
            rows["student_labels"].append([-100] * len(s_prompt) + sample)
            rows["teacher_ids"].append(t_prompt + sample)
            rows["teacher_labels"].append([-100] * len(t_prompt) + sample)
        batch = {}
        for side in ("student", "teacher"):
            padded, side_mask = pad_rows(rows[f"{side}_ids"], self.pad_id)
            labels, _ = pad_rows(rows[f"{side}_labels"], -100)
            batch.update({f"{side}_ids": padded.to(device), f"{side}_mask": side_mask.to(device),
                          f"{side}_labels": labels.to(device)})  # fmt: skip
        batch["index"] = inputs["index"]
        return batch

    def _vllm_samples(self, model, prompts: list[list[int]]) -> list[list[int]]:
        """The student's samples from TRL's colocated vLLM engine (its weights synced from
        the model being trained first): the same sampling as the hf path (T=1, no top-k or
        top-p), at most on_policy_max_new_tokens."""
        from trl.generation.vllm_generation import VLLMGeneration

        g = self.settings.generation
        if self._vllm is None:
            self._vllm = VLLMGeneration(
                model=model, accelerator=self.accelerator,
                processing_class=self.student_tokenizer, mode="colocate",
                tensor_parallel_size=g.tensor_parallel_size,
                gpu_memory_utilization=g.gpu_memory_utilization or 0.3,
                max_model_length=g.max_model_len, temperature=1.0, top_p=1.0, top_k=0,
                max_completion_length=self.settings.on_policy_max_new_tokens,
            )  # fmt: skip
        self._vllm.sync_weights()  # the weights of this step, not the checkpoint's
        _, completions, _, _ = self._vllm.generate(prompts=prompts, images=None, num_generations=1)
        return [list(ids) for ids in completions]

    # -- logging: the divergence and cross-entropy beside the loss -------------------------
    def _note(self, **values: float) -> None:
        for key, value in values.items():
            self._sums[key] = self._sums.get(key, 0.0) + value
        self._count += 1

    def log(self, logs: dict, *args, **kwargs) -> None:
        if self._count and "loss" in logs:
            for key, total in self._sums.items():
                logs[key] = round(total / self._count, 6)
            self._sums, self._count = {}, 0
        super().log(logs, *args, **kwargs)
