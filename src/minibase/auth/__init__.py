"""Authentication: passwords, tokens, API keys, invitations, the request principal."""
