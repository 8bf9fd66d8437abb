"""Readers of real formats: Fictional Knowledge JSON files (the paper's schema) and corpora."""

from knowledge_dynamics.data.knowledge import (
    PROBE_FIELDS,
    PROBE_TYPES,
    KnowledgeItem,
    load_fictional_knowledge,
    save_fictional_knowledge,
    validate_items,
)
