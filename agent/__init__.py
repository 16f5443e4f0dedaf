"""The AIdeator agent: Claude Code on a fresh clone, reporting as a JSON line protocol."""
