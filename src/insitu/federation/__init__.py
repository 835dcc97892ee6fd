"""Node-to-node work: signed requests, message framing, collaboration specs, job states.

Everything here is pure (no web framework, no database, no clock of its own)
except :mod:`insitu.federation.http_channel`, the one module that speaks HTTP.
"""
