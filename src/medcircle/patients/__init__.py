"""Patients (with encrypted identifiers), their guardians, duplicates and consent to share."""
