"""Framework agreements, cooperation agreements (pairings, trusteeships), goals, documents."""
