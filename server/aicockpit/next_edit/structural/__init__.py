"""Next edits found in the code's structure, without a model (finder.py is the entry point)."""
