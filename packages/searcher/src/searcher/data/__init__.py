"""Readers of real formats (FlashRAG corpora and questions, O²-QA findings, web-page caches) and
the data sources of `searcher train`."""
