"""Loopback HTTP emulators of Numista, Discogs and pokemontcg.io for integration tests.

See ``tests/emulators/base.py`` for the harness and fault-injection API.
"""
