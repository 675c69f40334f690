"""HTTP plumbing: responses, middleware, error handlers."""
