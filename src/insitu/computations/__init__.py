"""insitu.computations."""
