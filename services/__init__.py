"""Vitrine services: all domain logic. Never imports streamlit."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/vitrine-collectors/vitrine"
