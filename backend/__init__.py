"""Knopfdruck backend: definitions, cases, engine, rules, documents and the API."""
