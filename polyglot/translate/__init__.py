"""Translators for the cross-lingual inference strategies (``polyglot eval --strategy``): each
turns a non-English benchmark item's question into English. Every translation is cached in the
run folder (``translations.jsonl``, keyed by the translator's identity) and scored with chrF
against the benchmark's own English version where it has one."""

from polyglot.translate.base import TranslationCache, Translator, load_translator
from polyglot.translate.quality import chrf

__all__ = ["TranslationCache", "Translator", "chrf", "load_translator"]
