"""Prometheus exporter for Cention Contact Center's logio (login/logout) API."""

__version__ = "0.1.0"
