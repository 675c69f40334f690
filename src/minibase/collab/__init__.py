"""Collaborative editing: Yjs rooms, the y-websocket protocol, persistence and rules."""
