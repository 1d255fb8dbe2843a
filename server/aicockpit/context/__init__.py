"""Context layer: the text the model sees (documents, positions; later syntax and the index)."""
