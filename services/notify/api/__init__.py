"""HTTP routes of notify: tracking links, unsubscribe, the in-app API, CSM tasks and timelines."""
