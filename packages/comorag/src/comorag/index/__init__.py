"""The three-layer index: chunking, the veridical (graph), semantic and episodic layers, the store."""
