"""Next-edit suggestions."""
