"""The built-in testbed: a synthetic parallel multilingual reasoning world and tiny models."""
