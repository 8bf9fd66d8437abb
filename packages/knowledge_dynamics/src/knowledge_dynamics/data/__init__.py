"""Fictional Knowledge data (loader, validator, generator) and the background corpus."""

from knowledge_dynamics.data.knowledge import (
    PROBE_FIELDS,
    PROBE_TYPES,
    KnowledgeItem,
    load_fictional_knowledge,
    save_fictional_knowledge,
    validate_items,
)
