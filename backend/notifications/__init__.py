"""Telling citizens what happened: mailbox messages in the portal, notification mails by SMTP."""
