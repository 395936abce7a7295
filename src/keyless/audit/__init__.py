"""Pipeline-configuration audit: located YAML, CI models and one module per rule."""
