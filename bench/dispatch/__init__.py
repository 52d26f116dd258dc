"""`python -m bench.dispatch`: the full dispatcher against a bare aiogram Dispatcher.

workload: the synthetic conversations as updates, and the bank they run against;
runs: feeding them through a dispatcher (SQLite, PostgreSQL, Redis, MAX, CRM write-back);
report: the table, the targets and the final JSON; __main__: the options and the order of
the runs.
"""
