"""insitu.node."""
