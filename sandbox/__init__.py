"""Stand-ins for the outside world (identity provider, registries), served over real HTTP."""
