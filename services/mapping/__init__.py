"""Mapping between our items and other services' vocabularies (Numista grades and ids, Discogs, ...)."""
