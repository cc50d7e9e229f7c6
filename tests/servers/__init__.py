"""Real Redis and PostgreSQL servers for the tests, started on 127.0.0.1 and stopped by them.

Fixtures (registered in ``tests/conftest.py``): ``redis_server`` and ``redis_cluster`` (one
per test session; use ``redis`` / ``cluster`` for one emptied for each test) and
``postgres_server`` (one per session; ``postgres_url`` gives each test its own database).
A machine without the server skips those tests with a reason naming the install command
(``.ci/run`` installs them, and turns such skips into failures).
"""
