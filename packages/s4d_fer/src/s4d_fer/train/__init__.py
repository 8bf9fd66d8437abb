"""Training: loaders, Lightning modules, optimisation, evaluation and the pipeline."""
