"""Durable push jobs: per-item outbox rows, workers that claim them, checkpoints, idempotent retries.

* ``engine``: jobs and their rows in the database (create, claim, checkpoint, pause/resume/cancel, progress).
* ``worker``: the loop that claims rows and hands them to a service's pusher (thread or process).
* ``markers``: the tag a pushed remote item carries (install id + item id) and when one is ours.
* ``commands``: the ``jobs`` command line. Each service's pusher lives in its integration package
  (services/integrations/<service>/), listed in services/integrations/registry.py.
"""
