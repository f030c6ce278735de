"""Package data shipped with cokg (see cokg.resources)."""
