"""Numista: the per-user API (api.py), call quota (quota.py), catalogue cache (catalog.py), coin links
(links.py) and grade overrides (grade_overrides.py). Import from the submodules."""
