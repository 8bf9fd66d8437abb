"""Procedural face-expression benchmark (static apex images + dynamic clips)."""

from s4d_fer.synth.write import write_synth
