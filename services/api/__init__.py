"""The REST API under /api, served by the dashboard's own server (app.py; README "REST API")."""
