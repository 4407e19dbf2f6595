"""Hospital activity imported from the hospitals' own systems."""
