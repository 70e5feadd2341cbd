"""Outbound API clients, one module per external system; each implements a port of bridge.ports."""
