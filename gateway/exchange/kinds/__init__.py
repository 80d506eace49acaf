"""One module per message kind, each with its sending and its receiving side (see exchange.registry)."""
