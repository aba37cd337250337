"""preprocess step."""
