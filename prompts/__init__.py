"""Shipped prompt templates; see ``sotkit.DEFAULT_PROMPTS``."""
