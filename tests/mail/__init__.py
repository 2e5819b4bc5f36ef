"""The mails: the checked draft, the messages as RFC 5322 reads them, notices, recipients."""
