"""The multi-node demo: real node processes on localhost, every flow, what each party sees."""
