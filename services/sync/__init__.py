"""Durable push jobs: per-item outbox rows, workers that claim them, checkpoints, idempotent retries.

* ``engine``: jobs and their rows in the database (create, claim, checkpoint, pause/resume/cancel, progress).
* ``worker``: the loop that claims rows and hands them to a service's pusher (thread or process).
* ``numista``: the Numista pusher, the export plan behind the wizard and the CLI.
"""
