"""The embedded benchmark: a seeded fictional world, its corpus, web pages, questions and the
scripted expert's cold-start conversations (`searcher synth`)."""
