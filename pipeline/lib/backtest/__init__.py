"""Backtest: train and score as of a past day on an order-history CSV.

Judged against what followed that day.
"""
