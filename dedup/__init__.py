"""dedup: per-document logic, importable and testable without Ray."""
