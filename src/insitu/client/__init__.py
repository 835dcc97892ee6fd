"""insitu.client."""
