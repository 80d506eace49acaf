"""A person's own access: access cards, portal sessions, sign-in throttles and correction requests."""
