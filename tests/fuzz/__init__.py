"""Coverage-guided fuzzing (atheris) of what a node reads from outside before it trusts anything.

Four harnesses, one module each, run as ``python -m tests.fuzz.<name> [libFuzzer arguments]``:
``envelope`` (an inbox body), ``node_token`` (a bearer token and the body it came with),
``directory`` (a signed federation directory) and ``bundle`` (a hand-carried bundle file). Each
feeds its input through the real reading and checking code (``targets``) against one fixed
synthetic federation (``federation``) and counts any exception other than the refusal
``docs/protocol.md`` documents, or an accepted input that breaks the protocol's rules, as a crash.
Seeds and the dictionary are made at run time from ``tests/vectors`` (``seeds``); half the
mutations change the parsed JSON, also inside base64url members, rather than bytes (``mutator``);
corpora and crash files go to a temporary folder (``campaign``).

``test_fuzz.py`` runs all four for a bounded number of inputs in every test run
(``AVRR_FUZZ_SECONDS`` gives each that many seconds instead, as ``make fuzz`` does);
``test_regressions.py`` keeps every input that once crashed one of them.
"""
