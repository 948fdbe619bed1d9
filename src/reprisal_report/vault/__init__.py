"""The encrypted vault: a SQLCipher database whose key is wrapped by a passphrase."""
