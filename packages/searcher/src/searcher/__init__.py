"""O²-Searcher: an RL-trained search agent for open- and closed-ended questions over a local search environment."""

__version__ = "0.1.0"
