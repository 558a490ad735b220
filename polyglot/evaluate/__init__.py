"""Multilingual evaluation: per-language accuracy, reasoning gaps, consistency, paired tests."""
