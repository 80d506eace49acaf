"""Incoming packets: the federation inbox, and what partner officers list and open."""
