"""The node's access log: one entry per event touching a person's data; no personal data in it."""
