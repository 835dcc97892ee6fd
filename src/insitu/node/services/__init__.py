"""Node services: the logic behind every route, independent of HTTP."""
