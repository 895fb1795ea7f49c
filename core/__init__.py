"""Core: the data model, every error code, object-key layout and text utilities; imports nothing else of callqa."""
