"""The health domain: pure scorecards, aggregates, scoring, overrides, explanations, trust."""
