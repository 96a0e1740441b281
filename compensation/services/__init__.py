"""Writes for national-warranty compensation: ledger, violations, payouts."""
