"""Support alerts on ALERT_TOPIC_ARN: what to say (messages), when (notify), and what is remembered
between nights (state). Publishing is an adapter's (`ports.AlertPublisher`)."""
