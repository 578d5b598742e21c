"""Interoperability with other PAMNet implementations."""
