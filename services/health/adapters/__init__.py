"""Adapters of the health service: Postgres repository, scorecard files."""
