"""labcore: the shared library of the monorepo.

Modules (import the one you need; heavy dependencies load lazily):

* :mod:`labcore.models` — bundled offline models (SmolLM2-135M-Instruct, all-MiniLM-L6-v2)
* :mod:`labcore.llm` — one chat interface over local transformers and OpenAI-compatible servers
* :mod:`labcore.retrieval` — embedder, faiss dense index, BM25, hybrid (RRF)
* :mod:`labcore.train` — seeding, run folders, checkpoints, Lightning trainer factory
* :mod:`labcore.metrics` — EM/F1, WAR/UAR, target log-probabilities
* :mod:`labcore.io`, :mod:`labcore.errors` — atomic writes, JSON/JSONL readers, ``DataError``
* :mod:`labcore.plots` — PNG curves and bar charts
"""

from labcore.errors import DataError

__version__ = "0.1.0"
