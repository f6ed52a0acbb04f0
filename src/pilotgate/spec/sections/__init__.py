"""The sections of pilot.yaml, one module per concern; `pilotgate.spec.models` assembles them."""
