"""Writing WebSocket frames (the fast path of broadcasts; see ``direct_frames``)."""
