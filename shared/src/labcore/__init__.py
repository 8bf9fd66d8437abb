"""labcore: the shared library of the monorepo.

Modules (import the one you need; heavy dependencies load lazily):

* :mod:`labcore.models` — bundled offline models (SmolLM2-135M-Instruct, all-MiniLM-L6-v2)
* :mod:`labcore.llm` — one chat interface over local transformers and OpenAI-compatible servers
* :mod:`labcore.retrieval` — embedder, faiss dense index, BM25, hybrid (RRF)
* :mod:`labcore.cli` — the command-line/config layer every package's console script uses
* :mod:`labcore.rundir` — the run-folder contract (config.json, metrics.json/csv, plots, log)
* :mod:`labcore.train` — seeding, checkpoints, Lightning trainer factory (and ``RunDir``)
* :mod:`labcore.schedules` — learning-rate schedules (warm-up + cosine/linear/constant/step)
* :mod:`labcore.report` — statistics over seeds and markdown tables for ``report`` commands
* :mod:`labcore.device` — device, thread and data-worker selection
* :mod:`labcore.config` — choice validation and dotted replacement in dataclass configs
* :mod:`labcore.metrics` — EM/F1, WAR/UAR, target log-probabilities
* :mod:`labcore.io`, :mod:`labcore.errors` — atomic writes, JSON/JSONL readers, ``DataError``
* :mod:`labcore.plots` — PNG curves and bar charts
"""

from labcore.errors import DataError

__version__ = "0.1.0"
