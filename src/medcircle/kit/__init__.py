"""Shared building blocks: errors, clock, pagination, i18n, identifiers."""
