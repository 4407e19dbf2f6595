"""The in-app inbox and email through the deployment's SMTP server."""
