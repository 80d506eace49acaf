"""Cases (one person each) and their consents, as the host mission records them."""
