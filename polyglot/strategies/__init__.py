"""Cross-lingual inference strategies of ``polyglot eval --strategy`` (each a small module):
``native`` (the default: the item as it is) and ``translate-all`` (every non-English item
solved from its English translation); selective translation, self-translation, CLP and CLC
build on the same routing."""

STRATEGIES = ("native", "translate-all")
INJECTIONS = ("replace", "prefill")
