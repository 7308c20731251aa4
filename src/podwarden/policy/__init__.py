"""Layer 1: tables shipped as data (``tables/``) and their schemas and loaders.

Imports only ``podwarden.model``, the standard library and PyYAML, and reads nothing but its own
packaged tables. A table that breaks its schema fails at start-up, naming file, line and field.
"""
