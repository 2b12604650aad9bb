"""A log witness (c2sp.org/tlog-witness) that a member or a regulator runs on its own machine.

``store`` keeps the witness's folder (key, followed logs, the checkpoint last
cosigned per log, written atomically); ``app`` is its small HTTP service. The
rules it applies are pure, in :mod:`refund_registry.domain.witnessing`. It
imports no server module of the registry: no database, no Redis.
"""
