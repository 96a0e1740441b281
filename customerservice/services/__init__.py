"""Customer-service writes: `messages` (receive, reply) and `late_reply` (the automatic charge
source of late-reply fines, registered with the charge engine when this package is imported)."""

from . import late_reply  # noqa: F401  (registers the LateReply source)
