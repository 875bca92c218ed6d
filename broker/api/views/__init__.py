"""Typed results of the services turned into the docs/api.md JSON: one module per
resource, and the only place that builds API response bodies."""
