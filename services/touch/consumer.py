"""Touch's Kafka consumer: events, health scores and outcomes, read by the shared ConsumerRunner.

The wiring lives in :func:`touchline.touch.main.build_app` (group "touch", schema "touch");
this module names what is consumed so operators find it in one place.
"""

from __future__ import annotations

from touchline.shared import topics

GROUP_ID = "touch"
SCHEMA = "touch"
SUBSCRIBE = [topics.EVENTS, topics.HEALTH, topics.OUTCOMES]
