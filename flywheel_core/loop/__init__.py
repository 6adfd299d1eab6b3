"""Map the loop: the loop-map model, its seed templates, diagnosis, diffs, Markdown and the data lint."""
