"""The web edge: dependencies, error handling, templating, CSRF, shared pages."""
