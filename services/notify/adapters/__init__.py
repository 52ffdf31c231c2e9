"""Thin I/O for notify: Postgres, SMTP, webhooks. No decisions here."""
