"""The secret key (Fernet) of the tests' installations: made per test process, so no key sits in the repository.
Servers and command-line runs a test starts get it through VITRINE_SECRET_KEY."""

from cryptography.fernet import Fernet

SECRET_KEY = Fernet.generate_key().decode()
