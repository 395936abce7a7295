"""A module that, unlike detect-secrets 1.5, uses requests while it is imported."""

import requests

SESSION = requests.Session
