"""The service layer for applications and cases: the only door to their data."""
