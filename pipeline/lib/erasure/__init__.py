"""Erasure (GDPR / CCPA): forget one person everywhere.

Read a request, resolve the person, delete on the platforms and in the warehouse, keep salted
hashes only.
"""
