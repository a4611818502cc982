"""What a run leaves on disk: files (metrics, history, solution), figures, the run directory."""
