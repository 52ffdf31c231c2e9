"""Score weights learned from outcomes: pure functions from numpy arrays to a comparison and a proposal.

dataset.py turns history snapshots into arrays, fit.py fits and cross-validates, metrics.py holds
AUC/Brier/reliability, proposal.py writes the reviewable scorecard YAML. No I/O here: the health
adapter reads the history (adapters/queries.py), the CLI and the API write and answer.
"""
