"""Data sets on disk -> fixed classes -> uint8 batches."""
