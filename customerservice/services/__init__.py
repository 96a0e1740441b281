"""Customer-service writes: `messages` (receive, reply)."""
