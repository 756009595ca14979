"""A minimal Django project around django-ca, the real CA the connector tests talk
to. Everything variable comes from the environment the fixture sets."""
import os
from pathlib import Path

DATA = Path(os.environ["PEER_DATA"])
SECRET_KEY = os.environ.get("PEER_SECRET", "peer-test-secret-" + "x" * 40)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "django_ca_peer.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "django.contrib.staticfiles", "django_object_actions", "django_ca",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.contrib.auth.context_processors.auth",
                                                 "django.contrib.messages.context_processors.messages",
                                                 "django.template.context_processors.request"]}}]
# Several gunicorn workers write to one SQLite file: IMMEDIATE transactions take
# the write lock up front instead of failing on a stale read snapshot.
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DATA / "django-ca.sqlite3"),
                         "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30}}}
# The API user's password is checked on every request; Django's default
# 1,000,000-iteration PBKDF2 costs ~0.5 s each time.
PASSWORD_HASHERS = ["django_ca_peer.hashers.FastPBKDF2PasswordHasher"]
STATIC_URL = "/static/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "django-ca": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                  "OPTIONS": {"location": str(DATA / "keys"), "file_permissions_mode": 0o600,
                              "directory_permissions_mode": 0o700}},
}
# Shared by the gunicorn workers and `manage.py generate_crls` (which refreshes the
# cached CRLs), as Redis or memcached would be in production.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                      "LOCATION": str(DATA / "cache")}}
CA_DEFAULT_HOSTNAME = os.environ.get("PEER_HOSTNAME", "127.0.0.1")
CA_ENABLE_REST_API = True
CA_ENABLE_ACME = False
CA_USE_CELERY = False
CA_MIN_KEY_SIZE = 2048
CA_DEFAULT_KEY_SIZE = 2048
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"file": {"class": "logging.FileHandler", "filename": str(DATA / "django-ca.log")}},
           "root": {"handlers": ["file"], "level": "WARNING"}}
