"""Prefill: reads what the administration already holds, with provenance. Knows nothing of cases."""
