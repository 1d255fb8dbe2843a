"""Ghost-text completion: the pipeline shared by inline completion and the completion fallback."""
