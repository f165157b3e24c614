"""Self-hosted engines (torch + transformers), installed as ``sotkit.engines``."""
