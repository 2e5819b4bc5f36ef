"""A minimal member portal built on cegema_onboarding's Django app."""
