"""synth step."""
