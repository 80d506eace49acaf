-- The key store is a database of its own (backed up on its own rotation: deploy/README.md).
CREATE DATABASE avrr_keys OWNER avrr;
