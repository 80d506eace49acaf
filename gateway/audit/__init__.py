"""The data protection officer's reports over a node's own records (ids, codes, counts, dates)."""
