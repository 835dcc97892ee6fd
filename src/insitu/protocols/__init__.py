"""insitu.protocols."""
