"""One FastAPI router per resource: parse, authorize, call a service."""
