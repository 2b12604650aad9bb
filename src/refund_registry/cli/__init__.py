"""The ``refund-registry`` command line: one module per command group.

Every command takes ``--data-dir``. When ``DATABASE_URL`` / ``REDIS_URL`` are
not set, the command attaches to the embedded PostgreSQL and Valkey of that
folder (:mod:`refund_registry.cli.embedded`), starting them if needed, and
stops them on exit unless another process still uses them.
:mod:`refund_registry.cli.main` builds the parser and dispatches.
"""
