"""Stock Django Channels peer: the tutorial pattern, standalone, no database."""
