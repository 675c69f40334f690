"""Minibase: a self-hosted, multi-tenant, real-time backend for node-based workflow editors."""

__version__ = "0.1.0"
