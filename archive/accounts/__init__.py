"""Accounts: sign-up, and the API tokens scripts (pyvo, astroquery) send to the TAP service."""
