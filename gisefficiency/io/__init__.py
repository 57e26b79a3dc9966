"""Reading and writing files: the only place that touches disk."""
