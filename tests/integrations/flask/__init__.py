"""The Flask extension and the demo portal: test client, real server, headless browser."""
