"""Touch's adapters: Postgres repository, config files."""
