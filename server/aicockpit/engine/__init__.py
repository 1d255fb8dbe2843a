"""Engine layer: generates text. Knows nothing of LSP."""
