"""The test bed of real servers (being written)."""
