"""One package per external service: its API boundary, catalogue cache, mapping and pusher."""
