"""Background work that runs in the server process."""
