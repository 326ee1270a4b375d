"""Activation assets: what reaches the email platforms, and erasure requests."""
