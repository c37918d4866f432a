"""Authentication: who is calling, proven by a token from the configured identity provider."""

from backend.auth.tokens import TRUST_LEVELS, Identity, TokenVerifier

__all__ = ["TRUST_LEVELS", "Identity", "TokenVerifier"]
