"""Element sets shipped with satqkd (importable so the package finds them)."""
