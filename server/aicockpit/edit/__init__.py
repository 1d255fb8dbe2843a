"""Natural-language edits: targets, prompts to the model, and minimal diffs."""
