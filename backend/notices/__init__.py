"""Notices and certificates that prove themselves: signed key data in a QR, checked on /verify."""
