"""One-shot commands that read the logio API once and exit: backfill and query."""
