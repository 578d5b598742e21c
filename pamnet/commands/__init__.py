"""Subcommands of the `pamnet` CLI, one module each."""
