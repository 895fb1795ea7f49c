"""I/O: object store, results database, audio probe/decode; imports only core."""
