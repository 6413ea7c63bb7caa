"""winnow's orchestration: config, CLI, runner, readers, writers, manifest, report.

Importing this package does not import Ray; only the runner does.
"""
