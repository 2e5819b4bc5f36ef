"""Benchmarks of cegema_onboarding. ``python -m benchmarks`` runs the flow benchmark.

Benchmarks print figures (medians and ratios) and assert nothing: timing assertions belong
nowhere near a shared two-core CI machine.
"""
