"""insitu.crypto."""
