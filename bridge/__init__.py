"""socialdesk's platform-neutral core: events, ports, store, pipelines. Imports no Flask and no vendor SDK."""
