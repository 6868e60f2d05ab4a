"""HTTP range reads: the transport (session, send, redirects, watchdog), retries, bodies, and `HttpSource`."""
