"""Real time: the event bus, the live-query hub and the ``/v1/sync`` socket."""
