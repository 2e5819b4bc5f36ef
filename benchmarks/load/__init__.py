"""``make load``: the portal under gunicorn on PostgreSQL, driven by locust (issue 16).

- ``app``: the WSGI app the workers serve (Flask extension, SqlStorage, SqlRateLimiter).
- ``locustfile``: the simulated members (right-password logins, whole journeys).
- ``run``: starts everything on loopback, measures, and writes the page's section.
"""
