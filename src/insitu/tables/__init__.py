"""insitu.tables."""
