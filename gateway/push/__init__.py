"""Push: every feed is a WebSub topic (hub.py), and new photos reach subscribers (jobs.py)."""
