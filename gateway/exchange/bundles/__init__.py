"""Hand-carried bundles: the sealed envelopes due to one member, and the answers owed to it, in
one signed and sealed file (``avrr bundle export`` / ``avrr bundle import``)."""
