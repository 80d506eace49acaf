"""The federation: its signed directory, each node's keys, and how nodes talk to each other.

A node trusts exactly one thing from outside: the operator's public key, pinned at set-up. Through
it, the signed directory tells which nodes exist, which keys they sign and encrypt with (and when),
and what each role may receive for each purpose.
"""
