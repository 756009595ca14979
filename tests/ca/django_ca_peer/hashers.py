from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Test peer only: a cheap hash so Basic auth does not cost 0.5 s a request."""
    iterations = 1000
