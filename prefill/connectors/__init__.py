"""Registry connectors: one stateless class per registry, registered in a ConnectorRegistry."""
