"""Layer 4: one module per AWS resource. A handler takes a validated input dict (the
operation's input shape) and returns the output dict; domain errors are raised, never
formatted here."""
