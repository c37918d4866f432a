"""Sandbox registries: one module and router per registry, combined by build_registries_app."""

from sandbox.registries.app import build_registries_app

__all__ = ["build_registries_app"]
