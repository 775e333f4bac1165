"""After sending: follow each video to the end, save its files, and take webhook events."""
