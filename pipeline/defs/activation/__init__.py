"""Activation assets: the syncs of segments and scores to the email platforms, and erasure
requests."""
