"""stats step."""
