"""The local stack without Docker: Kafka (KRaft, jars from Maven Central), embedded
PostgreSQL, an SMTP sink and the four services, all under ``TOUCHLINE_HOME``.

Entry points: ``python -m touchline.shared.stack up|down|status|logs|env|infra`` and
:mod:`touchline.shared.stack.testing` for pytest. Submodules are imported lazily so that
importing this package starts nothing and pulls in no client library.
"""

from touchline.shared.stack.layout import Layout, default_home

__all__ = ["Layout", "default_home"]
