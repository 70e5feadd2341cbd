"""Inbound HTTP: Flask blueprints that verify, parse, store and acknowledge."""
