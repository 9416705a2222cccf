"""Login for Shuyu: password + TOTP, or the unified identity provider, then admission."""
