"""Touch's pure domain: tiers, the playbook model, the engine that advances enrolments."""
