"""Lexical-unit decoding."""
