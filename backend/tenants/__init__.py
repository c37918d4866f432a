"""Tenants: the authorities one platform serves, and the services each has activated (EfA)."""
