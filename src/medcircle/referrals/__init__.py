"""Two-way referrals: the closed loop up to the capital and back, worklists, waits, savings."""
