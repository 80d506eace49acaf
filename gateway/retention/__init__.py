"""Purpose-limited retention: purging what passed its date, legal holds, erasure."""
