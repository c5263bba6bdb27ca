"""Scenario YAML files shipped with satqkd (importable so the package finds them)."""
