"""Pure decisions of notify: tokens, recipients and locales, suppression, in-app caps, tasks."""
