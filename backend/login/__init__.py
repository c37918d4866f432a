"""Portal login: the OIDC authorization code flow with PKCE and the server-side sessions it
opens. Above the context (it needs the engine and the identity provider); token verification
itself stays in `backend.auth`, which the context builds (issue 18)."""
