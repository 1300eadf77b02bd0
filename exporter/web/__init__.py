"""Serving: the HTTP server, its pages, and the exporter-toolkit web config (TLS, basic auth)."""
