"""ComoRAG: a three-layer index plus a metacognitive memory loop for questions over long narratives."""

__version__ = "0.1.0"
