"""Keys, envelopes, signatures and canonical encoding: pure functions over bytes and keys.

Only ``crypto._primitives`` touches the cryptographic library; everything else here is a recipe
built on it (``seal``, ``open_sealed``, ``sign_document``, ``verify_document``). Verification raises,
it never returns a bool. No I/O and no clock: times arrive as arguments.
"""
