"""insitu.dp."""
