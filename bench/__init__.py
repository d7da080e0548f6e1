"""`make bench`: the project's nightly run against its floor (the same work with no framework)."""
