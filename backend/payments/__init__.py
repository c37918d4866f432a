"""Fees: a payment-provider interface, the sandbox provider's client, verified webhooks."""
