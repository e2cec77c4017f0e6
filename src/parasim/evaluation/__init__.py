"""Metrics, scoring and evaluation reports."""
