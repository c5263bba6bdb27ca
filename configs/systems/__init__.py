"""Equipment (system) YAML files."""
