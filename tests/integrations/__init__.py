"""The web integrations, each through its framework's test client and a real server."""
