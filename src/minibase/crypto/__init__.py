"""Cryptography at rest and in archives (``cryptography``'s AES-GCM and scrypt)."""
