"""The avrr command line: main (serve, worker, purge, demo), operator, audit, consent."""
