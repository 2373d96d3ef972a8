"""Catalogue adapters, one per source: shared facts cached per source id."""
