"""weightinit: a service that hands out initialized neural-network weights."""

__version__ = "0.1.0"
