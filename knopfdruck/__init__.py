"""Composition root: wires backend, portal and sandbox into one ASGI app and one CLI."""
