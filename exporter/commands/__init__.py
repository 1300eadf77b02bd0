"""One module per command: its flags (``add_parser``) and what is its own; shared flags in
``flags``. The one-shot readers (backfill, query) and their helpers live here too."""
