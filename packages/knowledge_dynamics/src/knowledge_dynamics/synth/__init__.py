"""The embedded benchmark generator: fictional knowledge (passages, probes, paraphrases) and
the synthetic background encyclopedia, from a shared template and name inventory."""
