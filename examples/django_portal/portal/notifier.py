"""A notifier that prints post, SMS and phone notices to the terminal (development only)."""

from cegema_onboarding.model import Account, Channel


class ConsoleNotifier:
    """Stands in for the letter, SMS or call that tells a no-email member where they are."""

    def notify(self, channel: Channel, account: Account, kind: str, text: str) -> None:
        """Print the notice instead of sending it."""
        print(f"--- {channel.value} to {account.name} ({kind}) ---\n{text}\n---", flush=True)
