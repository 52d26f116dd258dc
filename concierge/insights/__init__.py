"""Explainable client insights for managers: segments, churn risk, value and potential, holding
groups and public persons. Every result carries the `Reason`s behind it.

Import from the module that owns a concept (`concierge.insights.churn`, ...); nothing is
re-exported here.
"""
