"""Handover to a Fachverfahren: encrypted FIT-Connect-style submissions and status callbacks."""
