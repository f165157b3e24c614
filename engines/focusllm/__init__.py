"""FocusLLM."""
